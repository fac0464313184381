"""A minimal pure-Python hook: the reference speedbump's native hook is
measured against (benches/hook_bench.py). Same job: match functions by
module:qualname globs, spin holding the GIL. On 3.12+ it uses sys.monitoring
(and DISABLEs what does not match); 3.10/3.11 have no sys.monitoring and
pure Python cannot install a frame-evaluation function, so there it uses
sys.setprofile (every call and return reaches it)."""

import fnmatch
import os
import sys
import time


def install_profile(patterns: list[str], delay_ns: int) -> None:
    rules = [p.split(":", 1) for p in patterns]
    decided: dict = {}
    clock = time.perf_counter_ns

    def on_event(frame, event, arg):
        if event != "call":
            return
        code = frame.f_code
        matched = decided.get(code)
        if matched is None:
            module = frame.f_globals.get("__name__", "")
            qualname = getattr(code, "co_qualname", code.co_name)
            matched = any(fnmatch.fnmatchcase(module, m) and fnmatch.fnmatchcase(qualname, q)
                          for m, q in rules)
            decided[code] = matched
        if matched and delay_ns:
            end = clock() + delay_ns
            while clock() < end:
                pass

    sys.setprofile(on_event)


def install(patterns: list[str], delay_ns: int) -> None:
    if not hasattr(sys, "monitoring"):
        install_profile(patterns, delay_ns)
        return
    mon = sys.monitoring
    tool = 5
    mon.use_tool_id(tool, "reference")
    rules = [p.split(":", 1) for p in patterns]
    decided: dict = {}
    clock = time.perf_counter_ns

    def on_start(code, offset):
        matched = decided.get(code)
        if matched is None:
            module = sys._getframe(1).f_globals.get("__name__", "")
            matched = any(fnmatch.fnmatchcase(module, m) and fnmatch.fnmatchcase(code.co_qualname, q)
                          for m, q in rules)
            decided[code] = matched
        if not matched:
            return mon.DISABLE
        if delay_ns:
            end = clock() + delay_ns
            while clock() < end:
                pass

    mon.register_callback(tool, mon.events.PY_START, on_start)
    mon.set_events(tool, mon.events.PY_START)


if os.environ.get("REFERENCE_HOOK_PATTERNS"):
    install(os.environ["REFERENCE_HOOK_PATTERNS"].split(","),
            int(os.environ.get("REFERENCE_HOOK_DELAY_NS", "0")))
