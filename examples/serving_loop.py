"""Reference workload for rankings: a serving loop whose quiet scheduling
step is critical and whose busy post-processing is hidden behind the device.

    python examples/serving_loop.py [--children 5] [--sched-us 600]
        [--device-us 3000] [--post-us 1200] [--faster sched|post] [--seconds 3]

Package `serving` has `--children` child modules: `serving.sched` and
`serving.post1` ... `serving.post<children-1>`. Each unit of work is one
call of `__main__:Engine.step`:

1. `serving.sched:pick` — one call per unit, --sched-us of Python, while the
   device is idle (on the critical path);
2. the device starts: a separate process (`python -S`, so never hooked and
   never holding this process's GIL) that waits --device-us and answers
   through a pipe;
3. `serving.post<i>:step` — hundreds of short calls per unit (100 + 20·i
   calls per module), --post-us of Python in all, while the device works;
4. wait for the device.

KNOWN ANSWER (o ≈ 50-150 µs of loop and pipe overhead per unit):
    time per unit = sched_us + max(device_us, post_us) + o  (≈ 3.7 ms)
- `serving.sched`: criticality 1 (any time added to it adds to the unit).
- every `serving.post<i>`: criticality 0 while the time added to the post
  stages stays under the slack device_us - post_us (1.8 ms with the
  defaults), though a profiler shows them with twice sched's time and
  hundreds of times its calls.
Checked by editing the code (`--faster`): `--faster sched` halves
sched's work and throughput rises by about sched_us / 2 per unit;
`--faster post` halves the post stages' work and throughput does not move
(tests/python/test_rank.py runs both).

The child modules are created at start-up (one source text, `--children`
module objects), so one script serves the 5- and the 17-child variants.
"""

import argparse
import os
import subprocess
import sys
import time
import types

from _util import Calibration, common_args, iterations, progress, set_timer_slack

SCHED_SOURCE = '''
ITERATIONS = 0

def pick(x):
    for _ in range(ITERATIONS):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x
'''

POST_SOURCE = '''
ITERATIONS = 0
CALLS = 0

def step(x):
    for _ in range(ITERATIONS):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return x
'''

DEVICE_SOURCE = '''
import os, sys, time
wait_s = float(sys.argv[1])
while True:
    if not os.read(0, 1):
        break
    time.sleep(wait_s)
    os.write(1, b"d")
'''


def make_package(children):
    """`serving` with `serving.sched` and `children - 1` post modules."""
    package = types.ModuleType("serving")
    package.__path__ = []
    sys.modules["serving"] = package
    sched = types.ModuleType("serving.sched")
    exec(compile(SCHED_SOURCE, "<serving.sched>", "exec"), sched.__dict__)
    sys.modules["serving.sched"] = sched
    posts = []
    for i in range(1, children):
        name = f"serving.post{i}"
        module = types.ModuleType(name)
        exec(compile(POST_SOURCE, f"<{name}>", "exec"), module.__dict__)
        module.CALLS = 100 + 20 * i
        sys.modules[name] = module
        posts.append(module)
    return sched, posts


def configure(args, sched, posts, ns_per_iteration):
    sched_us = args.sched_us / (2 if args.faster == "sched" else 1)
    post_us = args.post_us / (2 if args.faster == "post" else 1)
    sched.ITERATIONS = iterations(sched_us, ns_per_iteration)
    calls = sum(p.CALLS for p in posts) or 1
    for p in posts:
        # Every call costs the same; modules differ by their call counts.
        p.ITERATIONS = max(1, iterations(post_us / calls, ns_per_iteration))


class Engine:
    def __init__(self, sched, posts, device_in, device_out):
        self.sched = sched
        self.posts = [(p.step, range(p.CALLS)) for p in posts]
        self.device_in = device_in
        self.device_out = device_out
        self.x = 1

    def step(self):
        self.x = self.sched.pick(self.x)
        os.write(self.device_in, b"k")
        x = self.x
        for step, calls in self.posts:
            for _ in calls:
                x = step(x)
        os.read(self.device_out, 1)
        return x


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=5,
                        help="child modules of `serving` (default %(default)s)")
    parser.add_argument("--sched-us", type=float, default=600.0,
                        help="Python per unit in serving.sched (default %(default)s)")
    parser.add_argument("--device-us", type=float, default=3000.0,
                        help="device time per unit, another process (default %(default)s)")
    parser.add_argument("--post-us", type=float, default=1200.0,
                        help="Python per unit in all post stages (default %(default)s)")
    parser.add_argument("--faster", choices=["sched", "post"],
                        help="halve that stage's work (ground truth by editing)")
    common_args(parser)
    args = parser.parse_args()
    if args.children < 2:
        parser.error("--children must be at least 2 (sched and one post stage)")
    set_timer_slack()
    calibration = Calibration(args.calibration_ns)
    sched, posts = make_package(args.children)
    configure(args, sched, posts, calibration.ns)
    device = subprocess.Popen(
        [sys.executable, "-S", "-c", DEVICE_SOURCE, str(args.device_us * 1e-6)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    engine = Engine(sched, posts, device.stdin.fileno(), device.stdout.fileno())
    units = 0
    start = time.perf_counter()
    deadline = start + args.seconds
    every = args.report_every
    next_report, last_units, last_time = start + every, 0, start
    next_calibration = start + calibration.EVERY_S
    try:
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            if now >= next_calibration:
                configure(args, sched, posts, calibration.refresh())
                next_calibration = now + calibration.EVERY_S
            engine.step()
            units += 1
            progress(1, name="units")
            if every and now >= next_report:
                rate = (units - last_units) / (now - last_time)
                print(f"Throughput: {rate:.1f} units/s", flush=True)
                next_report, last_units, last_time = now + every, units, now
    finally:
        device.stdin.close()
        device.wait()
    elapsed = time.perf_counter() - start
    print(f"Throughput: {units / elapsed:.1f} units/s")


if __name__ == "__main__":
    main()
