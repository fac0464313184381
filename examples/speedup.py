"""Reference workload: one function that can be made truly faster, to check
step 2's extrapolation (predicted gain against measured gain).

    python examples/speedup.py [--faster-ns X] [--hot-us 20] [--hot-calls 4]
                               [--rest-us 40] [--seconds 3]

Each item runs `__main__:hot` --hot-calls times (--hot-us of Python each)
and `__main__:rest` once (--rest-us), in one thread: all critical.
`--faster-ns X` removes X ns of real work (busy-loop iterations) from
every call of `hot`, as an optimisation would. At exit it prints the
median time of a call of `hot` (every 64th item timed), so that the
speed-up really obtained can be checked.

KNOWN ANSWER: with t0 = hot_calls x hot_us + rest_us + o (o ≈ 5-15 µs):
    measured gain(X) = t0 / (t0 - hot_calls x X) - 1
e.g. the defaults and X = 5000: t0 ≈ 130 µs, gain ≈ +18%. Slowing
`__main__:hot` by d per call gives t0 + hot_calls x d (criticality 1), so
step 2's first-order prediction from a sweep of `__main__:hot` equals the
measured gain while X stays well below hot_us.
"""

import argparse
import time

from _util import Calibration, common_args, iterations, progress

N_HOT = N_REST = 0


def configure(args, ns_per_iteration):
    global N_HOT, N_REST
    N_HOT = iterations(max(0.0, args.hot_us - args.faster_ns / 1000.0), ns_per_iteration)
    N_REST = iterations(args.rest_us, ns_per_iteration)


def hot(x):
    for _ in range(N_HOT):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def rest(x):
    for _ in range(N_REST):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faster-ns", type=float, default=0.0,
                        help="make each call of hot this much faster, ns (default 0)")
    parser.add_argument("--hot-us", type=float, default=20.0)
    parser.add_argument("--hot-calls", type=int, default=4)
    parser.add_argument("--rest-us", type=float, default=40.0)
    common_args(parser)
    args = parser.parse_args()
    if args.faster_ns > args.hot_us * 1000:
        parser.error("--faster-ns cannot exceed --hot-us")
    # Calibrated on loops as long as hot's own (~130 ns per iteration):
    # the removed iterations are then worth what --faster-ns says.
    calibration = Calibration(args.calibration_ns,
                              loop_length=max(1, round(args.hot_us * 1000 / 130)))
    configure(args, calibration.ns)
    calls = range(args.hot_calls)
    items = checksum = 0
    hot_ns = []
    start = time.perf_counter()
    deadline = start + args.seconds
    every = args.report_every
    next_report, last_items, last_time = start + every, 0, start
    next_calibration = start + calibration.EVERY_S
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        if now >= next_calibration:
            configure(args, calibration.refresh())
            next_calibration = now + calibration.EVERY_S
        x = items
        if items % 64 == 0:  # a sample of hot's real cost, printed at exit
            t = time.perf_counter_ns()
            for _ in calls:
                x = hot(x)
            hot_ns.append((time.perf_counter_ns() - t) / args.hot_calls)
        else:
            for _ in calls:
                x = hot(x)
        checksum ^= rest(x)
        items += 1
        progress(1, name="items")
        if every and now >= next_report:
            print(f"Throughput: {(items - last_items) / (now - last_time):.1f} items/s",
                  flush=True)
            next_report, last_items, last_time = now + every, items, now
    elapsed = time.perf_counter() - start
    print(f"Speedup: hot {args.hot_us:g} us - {args.faster_ns:g} ns x {args.hot_calls}, "
          f"rest {args.rest_us:g} us; {items} items in {elapsed:.2f} s")
    hot_ns.sort()
    if hot_ns:
        print(f"Hot: {hot_ns[len(hot_ns) // 2]:.0f} ns per call (median of {len(hot_ns)} samples)")
    print(f"Throughput: {items / elapsed:.1f} items/s")


if __name__ == "__main__":
    main()
