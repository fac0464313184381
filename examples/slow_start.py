"""Reference workload: a server-like loop behind a slow start-up (like
loading a model), for comparing live mode with restart mode.

    python examples/slow_start.py [--startup-s 3] [--seconds 0] [--device-us 300]

Start-up takes --startup-s seconds (80% sleeping "on I/O", 20% building
tables in Python, `load_model`), then it serves steps until --seconds have
passed (0: until interrupted; SIGINT or SIGTERM end it cleanly with the
throughput line). Each step is one call of the progress-point function
`__main__:serve_step` (use `--progress __main__:serve_step`, or the
"steps" counter of speedbump.progress), which runs

    forward   2 calls per step, --forward-us each (default 120)
    sample    1 call per step,  --sample-us (default 60)

then waits --device-us without the GIL (a device step).

KNOWN ANSWER: one thread, depth 1, so everything is on the critical path:
    throughput = 1 / (2 forward_us + sample_us + device_us + o)
(≈ 1600 steps/s at the defaults, o ≈ 20-40 µs). At a delay d per call:
`__main__:forward` adds 2d per step, `__main__:sample` d: ranked by
throughput drop forward > sample, equal criticality (≈ 1). Start-up costs
--startup-s per run, which restart mode pays for every setting and live
mode once.
"""

import argparse
import signal
import time

from _util import Calibration, common_args, iterations, progress, set_timer_slack

N_FORWARD = N_SAMPLE = 0


def configure(args, ns_per_iteration):
    global N_FORWARD, N_SAMPLE
    N_FORWARD = iterations(args.forward_us, ns_per_iteration)
    N_SAMPLE = iterations(args.sample_us, ns_per_iteration)


def load_model(seconds, ns_per_iteration):
    """The slow start: 80% waiting, 20% Python building tables."""
    time.sleep(seconds * 0.8)
    table = []
    end = time.perf_counter() + seconds * 0.2
    while time.perf_counter() < end:
        x = len(table)
        for _ in range(1000):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        table.append(x)
    return table


def forward(x):
    for _ in range(N_FORWARD):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x


def sample(x):
    for _ in range(N_SAMPLE):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x & 0xFF


def serve_step(step):
    return sample(forward(forward(step)))


class Stop(Exception):
    pass


def stop(signum, frame):
    raise Stop


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--startup-s", type=float, default=3.0,
                        help="start-up time, seconds (default %(default)s)")
    parser.add_argument("--forward-us", type=float, default=120.0)
    parser.add_argument("--sample-us", type=float, default=60.0)
    parser.add_argument("--device-us", type=float, default=300.0)
    common_args(parser, seconds=0.0)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    set_timer_slack()
    calibration = Calibration(args.calibration_ns)
    load_model(args.startup_s, calibration.ns)
    print("Ready: serving steps", flush=True)
    configure(args, calibration.ns)
    wait_s = args.device_us * 1e-6
    overshoot = 0.0
    steps = 0
    start = time.perf_counter()
    deadline = start + args.seconds if args.seconds > 0 else float("inf")
    every = args.report_every
    next_report, last_steps, last_time = start + every, 0, start
    next_calibration = start + calibration.EVERY_S
    try:
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            if now >= next_calibration:
                configure(args, calibration.refresh())
                next_calibration = now + calibration.EVERY_S
            serve_step(steps)
            t = time.perf_counter()
            if wait_s > overshoot:
                time.sleep(wait_s - overshoot)
            overshoot = max(0.0, overshoot + 0.05 * (time.perf_counter() - t - wait_s))
            steps += 1
            progress(1, name="steps")
            if every and now >= next_report:
                print(f"Throughput: {(steps - last_steps) / (now - last_time):.1f} steps/s",
                      flush=True)
                next_report, last_steps, last_time = now + every, steps, now
    except Stop:
        pass
    elapsed = time.perf_counter() - start
    print(f"Throughput: {steps / elapsed:.1f} steps/s", flush=True)


if __name__ == "__main__":
    main()
