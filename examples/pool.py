"""Reference workload: a multi-process worker pool (multiprocessing spawn).

    python examples/pool.py [--units 2000] [--workers 2] [--unit-us 400]

The parent hands out --units units of work (numbers 0..units-1) to
--workers spawned workers (chunks of 8) and counts each result as it
arrives (progress, "units"). A worker spends --unit-us of Python per unit in
exactly these calls (module `__main__`; `__mp_main__` in the workers, which
speedbump matches as `__main__`):

    handle     1 call per unit  (10% of unit-us)
    parse      1 call per unit  (30%)
    score      3 calls per unit (20% each)

plus `warm` once per worker at start (not timed). So with `__main__:*` the
report shows handle = parse = units, score = 3 x units, exactly.

KNOWN ANSWER: throughput ≈ min(workers, cores) / unit_us (≈ 4000 units/s
with 2 workers on 2 free cores at 400 µs; less when other programs use the
cores). Slowing `__main__:score` by d per call: ≈ workers / (unit_us + 3d):
linear, criticality ≈ 1 (the parent only waits). Every unit's Python runs
in a worker: the parent's `__main__` code is off the critical path.
"""

import argparse
import multiprocessing as mp
import time

from _util import Calibration, common_args, iterations, progress

# Busy-loop iterations per call, set in each worker by init().
N_HANDLE = N_PARSE = N_SCORE = 0


def init(unit_us, ns_per_iteration):
    global N_HANDLE, N_PARSE, N_SCORE
    N_HANDLE = iterations(unit_us * 0.1, ns_per_iteration)
    N_PARSE = iterations(unit_us * 0.3, ns_per_iteration)
    N_SCORE = iterations(unit_us * 0.2, ns_per_iteration)


def parse(unit):
    x = unit
    for _ in range(N_PARSE):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def score(x, k):
    for _ in range(N_SCORE):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x ^ k


def handle(unit):
    x = parse(unit)
    for _ in range(N_HANDLE):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return score(x, 1) ^ score(x, 2) ^ score(x, 3)


def warm(_):
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=2000, help="units of work (default %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default %(default)s)")
    parser.add_argument("--unit-us", type=float, default=400.0,
                        help="Python per unit in a worker (default %(default)s)")
    common_args(parser, seconds=None)
    args = parser.parse_args()
    ns = Calibration(args.calibration_ns).ns
    ctx = mp.get_context("spawn")
    with ctx.Pool(args.workers, initializer=init, initargs=(args.unit_us, ns)) as pool:
        pool.map(warm, range(args.workers), chunksize=1)
        every = args.report_every
        start = time.perf_counter()
        next_report, last_done, last_time = start + every, 0, start
        done = checksum = 0
        for result in pool.imap_unordered(handle, range(args.units), chunksize=8):
            checksum ^= result
            done += 1
            progress(1, name="units")
            if every:
                now = time.perf_counter()
                if now >= next_report:
                    print(f"Throughput: {(done - last_done) / (now - last_time):.1f} units/s",
                          flush=True)
                    next_report, last_done, last_time = now + every, done, now
        elapsed = time.perf_counter() - start
    print(f"Pool: {done} units on {args.workers} workers in {elapsed:.2f} s "
          f"(checksum {checksum}); calibration {ns:.1f} ns/iteration")
    print(f"Throughput: {done / elapsed:.1f} units/s")


if __name__ == "__main__":
    main()
