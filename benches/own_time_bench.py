#!/usr/bin/env python3
"""Cost of own time (docs/ranking.md, "Own time per unit"), in one run.

Own time is asked for through the control block only (a census does it), so
this bench writes one (tests/python/control_block.py) and starts each
process under it. Per process, f (the targeted function) and g (an identical
twin, never matched) are timed alternately: f - g is the hook's cost on a
matched call, measured against a reference in the same run. g across
processes, against processes with no hook, is the cost on unmatched code.

    .venv/bin/python benches/own_time_bench.py            # ~1 minute
    .venv/bin/python benches/own_time_bench.py --rounds 15

Run it with the Python of a venv where scripts/setup.sh installed speedbump.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "python"))
from control_block import ENABLED, OWN_TIME, ControlBlock  # noqa: E402

WORKER = r"""
import sys, time
n, reps = int(sys.argv[1]), int(sys.argv[2])
def f():
    pass
def g():
    pass
def target():
    pass
target()
def loop_f(n):
    for _ in range(n):
        f()
def loop_g(n):
    for _ in range(n):
        g()
times_f, times_g = [], []
for _ in range(reps):
    t0 = time.perf_counter_ns()
    loop_f(n)
    t1 = time.perf_counter_ns()
    loop_g(n)
    t2 = time.perf_counter_ns()
    times_f.append(t1 - t0)
    times_g.append(t2 - t1)
times_f.sort(); times_g.sort()
print(times_f[reps // 2] / n, times_g[reps // 2] / n)
"""

CONFIGS = {
    # name: (patterns, flags); None: no hook at all
    "no hook": None,
    "matched, counting": ("__main__:f\n", ENABLED),
    "matched, own time": ("__main__:f\n", ENABLED | OWN_TIME),
    "unmatched, counting": ("__main__:target\n", ENABLED),
    "unmatched, own time": ("__main__:target\n", ENABLED | OWN_TIME),
}


def run_one(python, tmp, name, config, n, reps, index):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    if config is not None:
        session = tmp / f"s{index}"
        patterns, flags = config
        ControlBlock(str(session), patterns=patterns, flags=flags)
        env["SPEED_BUMP_SESSION"] = str(session)
    out = subprocess.run([python, "-c", WORKER, str(n), str(reps)], env=env,
                         capture_output=True, text=True, check=True)
    return tuple(map(float, out.stdout.split()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="processes per configuration")
    parser.add_argument("--calls", type=int, default=300_000)
    args = parser.parse_args()
    python = sys.executable
    try:
        from speedbump import _speedbump
    except ImportError:
        sys.exit("own_time_bench.py: run it with the Python of a venv where scripts/setup.sh "
                 "installed speedbump")
    samples = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        index = 0
        for r in range(args.rounds):
            for name, config in CONFIGS.items():
                index += 1
                samples[name].append(run_one(python, tmp, name, config, args.calls, 9, index))
            print(f"  round {r + 1}/{args.rounds}", file=sys.stderr)

    def med(name, which):
        return statistics.median(s[which] for s in samples[name])

    def added(name):
        return statistics.median(f - g for f, g in samples[name])

    print(f"\n### Own time's cost, Python {sys.version.split()[0]}, hook through "
          f"{_speedbump._mechanism()} (median of {args.rounds} processes)\n")
    print("| configuration | f ns/call | g ns/call | added on f (f - g) | g vs no hook |")
    print("|---|---:|---:|---:|---:|")
    plain_g = med("no hook", 1)
    for name in CONFIGS:
        print(f"| {name} | {med(name, 0):.1f} | {med(name, 1):.1f} | {added(name):+.1f} ns "
              f"| {med(name, 1) - plain_g:+.1f} ns |")
    print(f"\nown time on a matched call: {added('matched, own time') - added('matched, counting'):+.1f} ns "
          f"beyond counting; unmatched code with own time on vs off: "
          f"{med('unmatched, own time', 1) - med('unmatched, counting', 1):+.1f} ns")


if __name__ == "__main__":
    main()
