"""Benchmarks of the experiment engine (issue 4 bars), on the reference
workloads of docs/examples.md, through the real `speedbump sweep` and
`speedbump rank` commands. Prints each run and a summary.

    .venv-3.12/bin/python benches/engine_bench.py [--runs 10] [--only pipeline|slow_start|speedup]

1. pipeline: for each of --runs seeds, on examples/pipeline.py (kernels
   jittered ±5%, seeded):
   - `rank --under __main__ --delay 200us` (python-bound): the known order
     prepare_inputs (3 calls) > schedule (2) > launch (1);
   - `sweep *:*` python-bound at 10, 30, 100 µs: linear;
   - `sweep *:*` gpu-bound at 50, 100, 250, 500 µs: threshold with the knee
     within [90, 180] µs per call (documented ≈ 135);
   - `sweep *:*` gpu-bound at 20, 40, 80 µs (below the knee): no effect
     (shape none).
   A run is right when all four are. Bar: 9 of 10.
2. slow_start: `rank --candidates forward.txt sample.txt --delay 50us` on
   examples/slow_start.py (3 s start-up), live mode then restart mode, same
   seed: wall time of each command and the ranking each reached (forward
   before sample). Bar: live at least 5x faster, same ranking.
3. speedup: `sweep __main__:hot` at 2, 5, 10 µs with `--predict 5us` on
   examples/speedup.py (step 2's predicted gain), against the measured gain
   of --faster-ns 5000: --speedup-runs interleaved runs of each, 2 s, no
   speedbump, medians. Bar: |predicted - measured| <= 25% of measured.
   Also shown: the gain in items per CPU second (getrusage of the runs),
   which other programs on the machine disturb less.

Needs the `speedbump` binary next to this Python (scripts/setup.sh).
Takes about 40 minutes on the project's 2-core machine (--runs 10).
"""

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PYTHON = sys.executable
SPEEDBUMP = shutil.which("speedbump") or str(Path(PYTHON).parent / "speedbump")


def env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    return e


def speedbump(args, cwd, timeout=1200):
    """Runs a speedbump command; returns (exit status, wall s, results)."""
    out = Path(cwd) / "results.json"
    start = time.monotonic()
    proc = subprocess.run(
        [SPEEDBUMP, *args[:1], "--out", str(out), "--fresh", "--quiet", *args[1:]],
        cwd=cwd, env=env(), capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, check=False,
    )
    wall = time.monotonic() - start
    if proc.returncode not in (0, 1) or not out.exists():
        sys.exit(f"speedbump {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    results = json.loads(out.read_text())
    out.unlink()
    return proc.returncode, wall, results


def last(results, kind):
    return [e[kind] for e in results["experiments"] if e["kind"] == kind][-1]


def pipeline_run(seed, cwd):
    workload = [PYTHON, str(EXAMPLES / "pipeline.py"), "--seconds", "100000",
                "--jitter", "0.05", "--seed", str(seed)]
    common = ["--seed", str(seed), "--precision", "5%"]
    _, _, r = speedbump(["rank", "--under", "__main__", "--delay", "200us", "--budget", "75s",
                         *common, "--", *workload, "--regime", "python-bound"], cwd)
    rank = last(r, "rank")
    order = [c["label"] for c in rank["ranked"]]
    ranked = order == ["__main__:prepare_inputs", "__main__:schedule", "__main__:launch"]

    def sweep(regime, delays):
        _, _, r = speedbump(["sweep", "--delays", delays, "--budget", "45s", *common,
                             "--", *workload, "--regime", regime], cwd)
        return last(r, "sweep")

    linear = sweep("python-bound", "10us,30us,100us")
    threshold = sweep("gpu-bound", "50us,100us,250us,500us")
    none = sweep("gpu-bound", "20us,40us,80us")
    knee = threshold["shape"]["shape"].get("knee_ns")
    checks = {
        "ranking": ranked,
        "linear": linear["shape"]["shape"]["kind"] == "linear",
        "threshold": threshold["shape"]["shape"]["kind"] == "threshold"
        and 90_000 <= (knee or 0) <= 180_000,
        "none": none["shape"]["shape"]["kind"] == "none",
    }
    drops = ", ".join(f"{c['label'].split(':')[1]} {c['drop']:.1%}" for c in rank["ranked"])
    print(f"  seed {seed}: {'RIGHT' if all(checks.values()) else 'wrong'} "
          f"{ {k: v for k, v in checks.items() if not v} or ''}\n"
          f"    rank: {drops}\n"
          f"    python-bound: {linear['shape']['shape']['kind']} "
          f"(c = {(linear['shape']['fit'] or {}).get('slope', float('nan')):.2f}); "
          f"gpu-bound: {threshold['shape']['shape']['kind']}"
          f"{f' knee {knee / 1000:.0f} us' if knee else ''}; "
          f"below knee: {none['shape']['shape']['kind']} ({none['python']['bottleneck']})",
          flush=True)
    return all(checks.values())


def bench_pipeline(runs, cwd):
    print(f"1. pipeline: ranking and shapes, {runs} seeds", flush=True)
    right = sum(pipeline_run(seed, cwd) for seed in range(1, runs + 1))
    print(f"   => {right} of {runs} runs right (bar: 9 of 10)\n", flush=True)
    return right


def bench_slow_start(cwd):
    print("2. slow_start: live against restart mode (3 s start-up)", flush=True)
    for name in ("forward", "sample"):
        (Path(cwd) / f"{name}.txt").write_text(f"__main__:{name}\n")
    workload = [PYTHON, str(EXAMPLES / "slow_start.py"), "--startup-s", "3"]
    times = {}
    orders = {}
    for mode in ("live", "restart"):
        code, wall, r = speedbump(
            ["rank", "--candidates", "forward.txt", "sample.txt", "--delay", "50us",
             "--mode", mode, "--precision", "5%", "--budget", "600s", "--seed", "1",
             "--", *workload], cwd)
        rank = last(r, "rank")
        orders[mode] = [c["label"] for c in rank["ranked"]]
        times[mode] = wall
        drops = ", ".join(f"{c['label']} {c['drop']:.1%} ({c['pairs_used']} pairs)"
                          for c in rank["ranked"])
        print(f"   {mode:8} {wall:6.1f} s wall, exit {code}, spent {rank['spent_s']:.1f} s: {drops}",
              flush=True)
    same = orders["live"] == orders["restart"] == ["forward", "sample"]
    ratio = times["restart"] / times["live"]
    print(f"   => live {ratio:.1f}x faster, same ranking: {same} (bar: 5x, same)\n", flush=True)
    return ratio, same


def throughput(output):
    found = re.findall(r"Throughput: ([0-9.]+)", output)
    return float(found[-1])


def bench_speedup(cwd, runs):
    print("3. speedup: step 2's prediction against a real speed-up of 5 us per call", flush=True)
    workload = [PYTHON, str(EXAMPLES / "speedup.py"), "--seconds", "100000"]
    _, wall, r = speedbump(["sweep", "--pattern", "__main__:hot", "--delays", "2us,5us,10us",
                            "--predict", "5us", "--budget", "120s", "--seed", "1",
                            "--", *workload], cwd)
    sweep = last(r, "sweep")
    prediction = sweep["predictions"][0]
    predicted = prediction["gain"]
    low, high = (prediction["gain_interval"] or {}).get("low"), (prediction["gain_interval"] or {}).get("high")
    base, fast, base_cpu, fast_cpu = [], [], [], []
    hot_ns = {0: [], 5000: []}
    for _ in range(runs):
        for faster, into, into_cpu in ((0, base, base_cpu), (5000, fast, fast_cpu)):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run(
                [PYTHON, str(EXAMPLES / "speedup.py"), "--seconds", "2",
                 "--faster-ns", str(faster)],
                env=env(), capture_output=True, text=True, timeout=60, check=True)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            into.append(throughput(proc.stdout))
            hot_ns[faster].append(float(re.search(r"Hot: ([0-9.]+) ns", proc.stdout).group(1)))
            items = int(re.search(r"(\d+) items in", proc.stdout).group(1))
            into_cpu.append(items / cpu)
    measured = statistics.median(fast) / statistics.median(base) - 1
    measured_cpu = statistics.median(fast_cpu) / statistics.median(base_cpu) - 1
    error = abs(predicted - measured) / measured
    print(f"   sweep {wall:.0f} s: {sweep['shape']['shape']['kind']}, criticality "
          f"{prediction['criticality']:.2f}, {prediction['calls_per_unit']:.2f} calls/item")
    print(f"   predicted gain {predicted:+.1%} [{low:+.1%}, {high:+.1%}]; measured "
          f"{measured:+.1%} (medians of {runs}+{runs} runs: {statistics.median(base):.0f} -> "
          f"{statistics.median(fast):.0f} items/s); per CPU second {measured_cpu:+.1%}")
    hot_base, hot_fast = statistics.median(hot_ns[0]), statistics.median(hot_ns[5000])
    print(f"   real speed-up of hot: {(hot_base - hot_fast) / 1000:.2f} us per call "
          f"(median call {hot_base / 1000:.2f} -> {hot_fast / 1000:.2f} us)")
    print(f"   => off by {error:.0%} of the measured gain (bar: 25%)\n", flush=True)
    return predicted, measured, error


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--speedup-runs", type=int, default=7)
    parser.add_argument("--only", choices=["pipeline", "slow_start", "speedup"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="speedbump-bench-") as cwd:
        if args.only in (None, "pipeline"):
            bench_pipeline(args.runs, cwd)
        if args.only in (None, "slow_start"):
            bench_slow_start(cwd)
        if args.only in (None, "speedup"):
            bench_speedup(cwd, args.speedup_runs)


if __name__ == "__main__":
    main()
