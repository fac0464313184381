"""Dispatch: the quiet code on the critical path. One call per unit of
work: a little Python (--dispatch-us of busy loop) and a non-blocking hand-off
of the unit's record to the telemetry process (dropped when its pipe is
full, so telemetry can never hold the critical path up)."""

import os

ITERATIONS = 0  # busy-loop iterations per call, set by offpath.configure()


def dispatch(unit, telemetry_fd):
    """Prepares unit `unit` for the device; returns (work token, whether
    the telemetry record was dropped)."""
    x = unit
    for _ in range(ITERATIONS):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    try:
        os.write(telemetry_fd, unit.to_bytes(8, "little"))
        dropped = False
    except BlockingIOError:
        dropped = True
    return x, dropped
