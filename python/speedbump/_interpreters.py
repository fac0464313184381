"""Subinterpreters: the hook lives in the main interpreter only.

The extension is single-phase (one instance per process), and CPython
refuses to load it in a subinterpreter. The hook measures the main
interpreter; in a subinterpreter ``speedbump.pth`` imports nothing, the
extension is never loaded, and ``import speedbump`` gives the same no-ops
as a process without the hook.
"""

import _thread

_main = None


def in_main_interpreter():
    """Whether this code runs in the main interpreter (asked once)."""
    global _main
    if _main is None:
        _main = _ask()
    return _main


def _ask():
    ask = getattr(_thread, "_is_main_interpreter", None)  # 3.12+
    if ask is not None:
        return bool(ask())
    try:  # 3.10, 3.11
        import _xxsubinterpreters as interpreters
    except ImportError:  # not built: no subinterpreters but through the C API
        return True
    return int(interpreters.get_current()) == int(interpreters.get_main())


def progress(n=1, name=None):
    """No-op: the hook does not run in a subinterpreter."""


def is_active():
    return False


def _latency_begin():
    return 0


def _latency_end(name, start_ns, raised):
    """No-op (see `_latency_begin`)."""
