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
not active, and in subinterpreters (the hook measures the main interpreter).

``latency(name)`` times a block of code that is not one function as a
request of the latency point ``name`` (see docs/latency.md)::

    with speedbump.latency("batch"):
        run(batch)
"""

from speedbump._interpreters import in_main_interpreter as _in_main_interpreter

if _in_main_interpreter():
    from speedbump._speedbump import _latency_begin, _latency_end, is_active, progress
else:  # the extension cannot load in a subinterpreter (see _interpreters.py)
    from speedbump._interpreters import _latency_begin, _latency_end, is_active, progress

__all__ = ["is_active", "latency", "progress"]


class latency:  # noqa: N801 - used like a function: `with speedbump.latency("x"):`
    """Times the ``with`` (or ``async with``) block as one request of the
    latency point ``name``; a block that raises is a request flagged as an
    error. A no-op when the hook is not active. Each use is one request, so
    one object may be entered again after it exits (not while inside)."""

    __slots__ = ("_name", "_start")

    def __init__(self, name: str) -> None:
        self._name = str(name)
        self._start = 0

    def __enter__(self) -> "latency":
        self._start = _latency_begin()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _latency_end(self._name, self._start, exc_type is not None)
        return False

    async def __aenter__(self) -> "latency":
        return self.__enter__()

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        return self.__exit__(exc_type, exc, tb)
