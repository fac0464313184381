"""speedbump: find the Python code that limits your program's throughput.

speedbump slows chosen Python functions on purpose (a precise spin that holds
the GIL) and measures how much end-to-end throughput drops. The hook activates
itself at interpreter start-up when ``SPEED_BUMP_TARGETS`` is set; a program
never needs to import this package, except to count its units of work::

    import speedbump
    for batch in batches:
        run(batch)
        speedbump.progress(len(batch), name="samples")

``progress`` and ``is_active`` are no-ops (returning quickly) when the hook is
not active.
"""

from speedbump._speedbump import is_active, progress

__all__ = ["is_active", "progress"]
