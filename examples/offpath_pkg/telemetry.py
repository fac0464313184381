"""Telemetry: the busy code off the critical path. It runs in a process of
its own (`start()`), reading one 8-byte record per unit of work from a pipe
and spending --telemetry-us of Python on each, in five calls:

    record (10%) -> parse_event (20%), update_histogram x2 (20% each),
                    format_line (30%)

A profiler of the whole program shows it several times hotter than
`offpath_pkg.dispatch`; slowing it changes nothing for throughput, because
the main process never waits for it (records that find the pipe full are
dropped and counted).
"""

import os
import subprocess
import sys

# Busy-loop iterations per call of each function, set by serve().
N_RECORD = N_PARSE = N_HISTOGRAM = N_FORMAT = 0
HISTOGRAM = [0] * 64


def parse_event(raw):
    x = int.from_bytes(raw, "little")
    for _ in range(N_PARSE):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def update_histogram(value):
    x = value
    for _ in range(N_HISTOGRAM):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    HISTOGRAM[x & 63] += 1
    return x


def format_line(a, b):
    x = a ^ b
    for _ in range(N_FORMAT):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return f"unit={a} latency_bucket={x & 63}"


def record(raw):
    x = 0
    for _ in range(N_RECORD):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    value = parse_event(raw)
    return format_line(update_histogram(value), update_histogram(value ^ x))


def serve(telemetry_us, ns_per_iteration):
    """The telemetry process's loop: until its input closes."""
    global N_RECORD, N_PARSE, N_HISTOGRAM, N_FORMAT
    per = telemetry_us * 1000.0 / ns_per_iteration
    N_RECORD, N_PARSE = round(per * 0.1), round(per * 0.2)
    N_HISTOGRAM, N_FORMAT = round(per * 0.2), round(per * 0.3)
    pending = b""
    while True:
        data = os.read(0, 65536)
        if not data:
            return
        pending += data
        whole = len(pending) - len(pending) % 8
        for i in range(0, whole, 8):
            record(pending[i:i + 8])
        pending = pending[whole:]


def start(telemetry_us, ns_per_iteration):
    """Starts the telemetry process (hooked like any Python child when
    SPEED_BUMP_* is set); returns the Popen and the write end of its
    pipe, non-blocking."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = here + os.pathsep + env.get("PYTHONPATH", "")
    code = ("import offpath_pkg.telemetry as t; "
            f"t.serve({float(telemetry_us)!r}, {float(ns_per_iteration)!r})")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, env=env)
    fd = proc.stdin.fileno()
    os.set_blocking(fd, False)
    return proc, fd
