"""A minimal pure-Python sys.monitoring hook: the reference speedbump's
native hook is measured against (benches/hook_bench.py). Same job: match
functions by module:qualname globs, DISABLE the rest, spin holding the GIL."""

import fnmatch
import os
import sys
import time


def install(patterns: list[str], delay_ns: int) -> None:
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
