"""Shared helpers of the reference workloads (stdlib only).

The workloads spend their Python time in busy loops written inline in each
named function (never in a helper), so that a pattern such as `*:*` sees
exactly the calls each workload documents. The loop is always

    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF

and `Calibration` measures what one iteration of it costs here, at start
and again every 0.1 s while the workload runs: on a shared machine the same
loop runs at different speeds from one moment to the next (on this
project's 2-core test machine, samples 50 ms apart swing between ~145 and
~230 ns), and the documented per-call costs should hold, on average, in CPU
time throughout.
"""

import argparse
import statistics
import time

try:  # count units of work for speedbump's experiments, when present
    from speedbump import progress
except ImportError:  # pragma: no cover - runs without speedbump too
    def progress(n=1, name=None):
        pass


def _loop(n):
    x = 1
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def _sample(n, length=None):
    """ns per iteration over `n` iterations, run as loops of `length`
    iterations each (default: one loop of `n`)."""
    length = length or n
    loops = max(1, n // length)
    start = time.thread_time_ns()
    for _ in range(loops):
        _loop(length)
    return (time.thread_time_ns() - start) / (loops * length)


def _samples(count, n, length=None):
    _loop(50_000)  # warm-up: the specialising interpreter needs a few thousand
    return [_sample(n, length) for _ in range(count)]


def calibrate(override_ns=None):
    """Nanoseconds per iteration of the busy loop, or `override_ns` when
    given: the mean of 10 short runs after a warm-up, timed in this
    thread's CPU time so that being preempted by another program does not
    count (wall-clock samples vary by 2x on a shared machine)."""
    if override_ns:
        return float(override_ns)
    return statistics.fmean(_samples(10, 10_000))


def set_timer_slack():
    """Makes this process's sleeps wake on time (PR_SET_TIMERSLACK = 1 ns;
    the default 50 µs slack adds to every short "device" wait). Linux only;
    elsewhere a no-op. Workloads still correct the remaining overshoot
    inline, per wait:

        t = time.perf_counter()
        if wait > overshoot:
            time.sleep(wait - overshoot)
        overshoot = max(0.0, overshoot + 0.05 * (time.perf_counter() - t - wait))
    """
    try:
        import ctypes
        ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Calibration:
    """ns per busy-loop iteration, kept up to date: `refresh()` (call it
    every `EVERY_S`) times 3000 more iterations (~0.5 ms, 0.5% of the time)
    and returns the mean of the last ten samples (one second). With
    `override_ns` it never changes. A delay injected at the start of
    `refresh` (under `*:*`) falls outside its timing.

    `loop_length`: time loops of this many iterations, as long as the
    workload's own. It matters: CPython caches the ints below 256, so
    `range(n)` allocates one int per iteration past 256, and an iteration
    of a 10 000-long loop costs ~12% more here than one of a 160-long loop.
    The default (long loops) suits workloads whose loops run thousands;
    for shorter loops the documented costs come out up to ~12% high (a
    pipeline step documented at 600 µs of Python measures 520-560 µs of
    CPU), which shifts no ranking or shape. `speedup.py`, whose known answer
    needs the exact speed-up, passes its own loop length."""

    EVERY_S = 0.1

    def __init__(self, override_ns=None, loop_length=None):
        self.fixed = bool(override_ns)
        self.loop_length = loop_length
        if self.fixed:
            self.samples = [float(override_ns)]
        else:
            self.samples = _samples(10, 10_000, loop_length)
        self.ns = statistics.fmean(self.samples)

    def refresh(self):
        if not self.fixed:
            self.samples = self.samples[-9:] + [_sample(3000, self.loop_length)]
            self.ns = statistics.fmean(self.samples)
        return self.ns


def iterations(us, ns_per_iteration):
    """Loop iterations that cost `us` microseconds."""
    return max(0, round(us * 1000.0 / ns_per_iteration))


def common_args(parser: argparse.ArgumentParser, seconds=3.0):
    """Options every workload takes (`seconds=None`: no --seconds)."""
    if seconds is not None:
        parser.add_argument("--seconds", type=float, default=seconds,
                            help="run this long, seconds (default %(default)s)")
    parser.add_argument("--report-every", type=float, default=0.0, metavar="S",
                        help="also print the throughput of each S-second interval")
    parser.add_argument("--seed", type=int, default=0, help="seed of any randomness")
    parser.add_argument("--calibration-ns", type=float, default=None, metavar="NS",
                        help="ns per busy-loop iteration (default: measure at start)")
