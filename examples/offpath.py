"""Reference workload: a busy subsystem off the critical path and a quiet
one on it, the case a profiler gets wrong.

    python examples/offpath.py [--dispatch-us 40] [--device-us 300]
                               [--telemetry-us 150] [--seconds 3]

Each unit of work: `offpath_pkg.dispatch:dispatch` (--dispatch-us of
Python, 1 call per unit) hands the unit to a "device" (a GIL-free wait of
--device-us) and a record to the telemetry process; then the next unit.
`offpath_pkg.telemetry` runs in a process of its own and spends
--telemetry-us of Python per record in 5 calls (record, parse_event,
update_histogram x2, format_line): with the defaults ~40% of a core against
dispatch's ~10%, so a profiler ranks telemetry first.

KNOWN ANSWER (o ≈ 20-40 µs of loop overhead per unit):
    throughput = 1 / (dispatch_us + device_us + o)        (≈ 2700 units/s)
- `offpath_pkg.dispatch:*` at delay d: 1 / (dispatch_us + device_us + o + d):
  linear, criticality 1 (d = 100 µs: about -20%).
- `offpath_pkg.telemetry.*:*` at any delay: unchanged (criticality 0). At
  5d > device_us + dispatch_us - telemetry_us the telemetry process falls
  behind and drops records (printed), still without slowing the units.
  On a 2-core machine it then keeps one core busy, which costs the main
  process a little only when other programs compete for the second core.
"""

import argparse
import resource
import subprocess
import time

import offpath_pkg.dispatch as dispatch_mod
from _util import Calibration, common_args, iterations, progress, set_timer_slack
from offpath_pkg import telemetry


def configure(dispatch_us, ns_per_iteration):
    dispatch_mod.ITERATIONS = iterations(dispatch_us, ns_per_iteration)


def run(args, calibration, telemetry_fd):
    """The critical path; returns (units, seconds, records dropped)."""
    dispatch = dispatch_mod.dispatch
    configure(args.dispatch_us, calibration.ns)
    wait_s = args.device_us * 1e-6
    overshoot = 0.0
    units = dropped = 0
    start = time.perf_counter()
    deadline = start + args.seconds
    every = args.report_every
    next_report, last_units, last_time = start + every, 0, start
    next_calibration = start + calibration.EVERY_S
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        if now >= next_calibration:
            configure(args.dispatch_us, calibration.refresh())
            next_calibration = now + calibration.EVERY_S
        _, lost = dispatch(units, telemetry_fd)
        dropped += lost
        # The device: a wait that releases the GIL.
        t = time.perf_counter()
        if wait_s > overshoot:
            time.sleep(wait_s - overshoot)
        overshoot = max(0.0, overshoot + 0.05 * (time.perf_counter() - t - wait_s))
        units += 1
        progress(1, name="units")
        if every and now >= next_report:
            rate = (units - last_units) / (now - last_time)
            print(f"Throughput: {rate:.1f} units/s", flush=True)
            next_report, last_units, last_time = now + every, units, now
    return units, time.perf_counter() - start, dropped


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dispatch-us", type=float, default=40.0,
                        help="Python per unit in dispatch (default %(default)s)")
    parser.add_argument("--device-us", type=float, default=300.0,
                        help="GIL-free device wait per unit (default %(default)s)")
    parser.add_argument("--telemetry-us", type=float, default=150.0,
                        help="Python per record in the telemetry process (default %(default)s)")
    common_args(parser)
    args = parser.parse_args()
    set_timer_slack()
    calibration = Calibration(args.calibration_ns)
    proc, fd = telemetry.start(args.telemetry_us, calibration.ns)
    time.sleep(0.3)  # let the telemetry process start before measuring
    cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime
    try:
        units, elapsed, dropped = run(args, calibration, fd)
    finally:
        cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu
        proc.stdin.close()
        try:
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:  # still behind on its backlog: enough
            proc.kill()
            proc.wait()
    telemetry_cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
    print(f"Offpath: {units} units in {elapsed:.2f} s; CPU: main {cpu:.2f} s, "
          f"telemetry {telemetry_cpu:.2f} s; telemetry records dropped: {dropped}")
    print(f"Throughput: {units / elapsed:.1f} units/s")


if __name__ == "__main__":
    main()
