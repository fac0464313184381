"""Reference workload: a simulated accelerator pipeline.

The host (this process, Python) prepares, schedules and launches one step at
a time; a "device" runs each step's kernel. The device is a separate process
behind two pipes, started with `python -S` and no SPEED_BUMP_* variables,
so it is never hooked and never needs this process's GIL (a device thread
that sleeps would need the GIL to wake and hand back, serialising host and
device). Up to `--depth` steps may be in flight; a step counts as done
(progress, "steps") when the device reports it finished.

    python examples/pipeline.py --regime gpu-bound|python-bound|balanced
    python examples/pipeline.py --python-us 200 --kernel-us 1000 --depth 2 --seconds 3

Host Python per step, P = --python-us, spent in three functions with
distinct costs and call counts (real CPU work, busy loops calibrated at
start):

    prepare_inputs  3 calls per step, 50% of P (each P/6)
    schedule        2 calls per step, 30% of P (each 0.15 P)
    launch          1 call  per step, 20% of P

so `*:*` matches 6 calls per step in the loop (plus a few at start-up and
two every 0.1 s, when the busy loops are recalibrated). The host also
spends o ≈ 20-40 µs per step outside them (pipe I/O, the loop itself).

KNOWN ANSWER. With kernel time K = --kernel-us and depth D >= 2:

    throughput = 1 / max(P + o, K)        (D = 1: 1 / (P + o + K))

Adding d per call to all 6 host calls adds 6d per step on the host:
    throughput(d) = 1 / max(P + o + 6d, K)

- gpu-bound (P=150, K=1000, D=3): flat until 6d reaches the slack
  K - P - o (≈ 810 µs: knee ≈ 135 µs per call for the three functions or
  `*:*`), then linear: shape threshold; Python is not the bottleneck yet.
  (Measured: knee 134 µs.)
- python-bound (P=600, K=150, D=3): 1/(P + o + 6d): linear, criticality 1.
- balanced (P=400, K=500, D=3): small slack (≈ 60-80 µs per step: knee
  ≈ 10-13 µs per call): threshold close to the origin; a speed-up
  gains nothing (the device is the limit).
Ranking at a fixed delay per call (python-bound): prepare_inputs (3 calls)
> schedule (2) > launch (1) by throughput drop; equal criticality (≈ 1).
"""

import argparse
import os
import random
import subprocess
import sys
import time

from _util import Calibration, common_args, iterations, progress

REGIMES = {  # python_us, kernel_us, depth
    "gpu-bound": (150.0, 1000.0, 3),
    "python-bound": (600.0, 150.0, 3),
    "balanced": (400.0, 500.0, 3),
}

# The device: reads a 4-byte kernel duration (ns) per launched step, runs
# the kernel and writes one byte back per finished step; at the end of its
# input it writes the total kernel time (8 bytes, ns). A kernel is a sleep
# (like a GPU, the device uses no host CPU) shortened by the sleep's own
# overshoot, which is measured at start and then tracked (integral control)
# so the mean kernel time matches the request; timer slack is set to 1 ns
# where possible. No Python function is called
# per step, and it runs as `python -S` without SPEED_BUMP_*: it is never
# hooked.
DEVICE = r"""
import os, time
try:
    import ctypes
    ctypes.CDLL(None).prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK: 1 ns
except Exception:
    pass
inp, out = 0, 1
probe = []
for _ in range(15):
    t = time.perf_counter()
    time.sleep(0.0002)
    probe.append(time.perf_counter() - t - 0.0002)
overshoot = sorted(probe)[7]
os.write(out, b"R")
pending = b""
busy = 0.0
while True:
    data = os.read(inp, 4096)
    if not data:
        break
    pending += data
    while len(pending) >= 4:
        kernel_s = int.from_bytes(pending[:4], "little") * 1e-9
        pending = pending[4:]
        t = time.perf_counter()
        if kernel_s > overshoot:
            time.sleep(kernel_s - overshoot)
        took = time.perf_counter() - t
        overshoot = max(0.0, overshoot + 0.05 * (took - kernel_s))
        busy += took
        os.write(out, b"D")
os.write(out, round(busy * 1e9).to_bytes(8, "little"))
"""


# Busy-loop iterations per call, set by configure().
N_PREPARE = N_SCHEDULE = N_LAUNCH = 0


def configure(python_us, ns_per_iteration):
    global N_PREPARE, N_SCHEDULE, N_LAUNCH
    N_PREPARE = iterations(python_us * 0.50 / 3, ns_per_iteration)
    N_SCHEDULE = iterations(python_us * 0.30 / 2, ns_per_iteration)
    N_LAUNCH = iterations(python_us * 0.20, ns_per_iteration)


def prepare_inputs(step, part):
    x = step * 3 + part
    for _ in range(N_PREPARE):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def schedule(inputs, round_):
    x = inputs + round_
    for _ in range(N_SCHEDULE):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def launch(device_in, plan, kernel_ns):
    x = plan
    for _ in range(N_LAUNCH):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    os.write(device_in, kernel_ns.to_bytes(4, "little"))
    return x


def start_device():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    device = subprocess.Popen(
        [sys.executable, "-S", "-c", DEVICE],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
    )
    if os.read(device.stdout.fileno(), 1) != b"R":
        raise RuntimeError("the device process did not start")
    return device


def kernel_times_ns(args):
    """Kernel time of each step, ns: --kernel-us, varied by ±--jitter
    (uniform, seeded)."""
    base = args.kernel_us * 1000.0
    if not args.jitter:
        while True:
            yield round(base)
    rng = random.Random(args.seed)
    while True:
        yield round(base * (1.0 + args.jitter * (2.0 * rng.random() - 1.0)))


def run(args, calibration):
    """Runs the pipeline; returns (steps done, seconds, device busy seconds,
    checksum)."""
    configure(args.python_us, calibration.ns)
    device = start_device()
    device_in, device_out = device.stdin.fileno(), device.stdout.fileno()
    kernels = kernel_times_ns(args)
    limit = args.steps if args.steps is not None else sys.maxsize
    launched = in_flight = done = checksum = 0
    start = time.perf_counter()
    deadline = start + args.seconds if args.steps is None else float("inf")
    every = args.report_every
    next_report, last_done, last_time = start + every, 0, start
    next_calibration = start + calibration.EVERY_S
    try:
        while True:
            now = time.perf_counter()
            if now >= next_calibration:
                configure(args.python_us, calibration.refresh())
                next_calibration = now + calibration.EVERY_S
            # Launch while the queue has room and there is work left.
            if in_flight < args.depth and launched < limit and now < deadline:
                a = prepare_inputs(launched, 0)
                b = prepare_inputs(launched, 1)
                c = prepare_inputs(launched, 2)
                plan = schedule(schedule(a ^ b ^ c, 0), 1)
                checksum ^= launch(device_in, plan, next(kernels))
                launched += 1
                in_flight += 1
                continue
            if in_flight == 0:
                break
            # Wait, without the GIL, for the oldest step to finish.
            if not os.read(device_out, 1):
                raise RuntimeError("the device process died")
            in_flight -= 1
            done += 1
            progress(1, name="steps")
            if every:
                now = time.perf_counter()
                if now >= next_report:
                    rate = (done - last_done) / (now - last_time)
                    print(f"Throughput: {rate:.1f} steps/s", flush=True)
                    next_report, last_done, last_time = now + every, done, now
        elapsed = time.perf_counter() - start
    finally:
        device.stdin.close()
        tail = device.stdout.read()
        device.wait(timeout=10)
    device_busy_s = int.from_bytes(tail[-8:], "little") * 1e-9 if len(tail) >= 8 else 0.0
    return done, elapsed, device_busy_s, checksum


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regime", choices=sorted(REGIMES),
                        help="preset --python-us, --kernel-us and --depth")
    parser.add_argument("--python-us", type=float, help="host Python per step, µs (default 300)")
    parser.add_argument("--kernel-us", type=float, help="device time per step, µs (default 500)")
    parser.add_argument("--depth", type=int, help="steps in flight at most (default 2)")
    parser.add_argument("--steps", type=int, default=None,
                        help="run this many steps (instead of --seconds)")
    parser.add_argument("--jitter", type=float, default=0.0,
                        help="vary each kernel's time uniformly by ±this fraction, "
                             "seeded by --seed (default 0)")
    common_args(parser)
    args = parser.parse_args()
    preset = REGIMES.get(args.regime, (300.0, 500.0, 2))
    args.python_us = preset[0] if args.python_us is None else args.python_us
    args.kernel_us = preset[1] if args.kernel_us is None else args.kernel_us
    args.depth = preset[2] if args.depth is None else args.depth
    if args.depth < 1:
        parser.error("--depth must be at least 1")
    calibration = Calibration(args.calibration_ns)
    host_cpu = time.thread_time()
    done, elapsed, device_busy_s, _ = run(args, calibration)
    host_cpu = time.thread_time() - host_cpu
    per_step = 1e6 / max(done, 1)
    print(f"Pipeline: python {args.python_us:g} us, kernel {args.kernel_us:g} us, "
          f"depth {args.depth}; {done} steps in {elapsed:.2f} s; "
          f"calibration {calibration.ns:.1f} ns/iteration")
    print(f"Host: {host_cpu * per_step:.0f} us CPU per step; device: "
          f"{device_busy_s * per_step:.0f} us per kernel, busy {device_busy_s / elapsed:.0%}")
    print(f"Throughput: {done / elapsed:.1f} steps/s")


if __name__ == "__main__":
    main()
