#!/usr/bin/env python3
"""Benchmark of request latency (issue 13's bars), in one run, under
`speedbump run` (so a launcher drains the rings, as in real use).

1. Cost per call: a trivial function matched at delay 0, with and without
   being a latency point (`--latency`), each process timing it against an
   unmatched twin in the same run; the added cost is the median over
   interleaved processes of (f - g with latency) - (f - g without).
   Bar: <= 60 ns (Python 3.12).
2. Overflow: a latency point completed as fast as Python can call it
   (> 1M/s when the machine allows): the function's call counter must equal
   requests + raised + dropped (no count lost), and drops must be reported.
3. Launcher CPU: 100k completions/s paced for a few seconds at the default
   10 Hz sampling; bar: launcher CPU < 2% of one core (summary field
   `launcher_cpu_s` over `wall_s`), beside the same run without --latency.

    .venv/bin/python benches/latency_bench.py             # ~1 minute
    .venv/bin/python benches/latency_bench.py --rounds 9 --json out.json

Run it with the Python of a venv where scripts/setup.sh installed speedbump
(its `speedbump` command is used).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

COST_WORKER = r"""
import sys, time
n, reps = int(sys.argv[1]), int(sys.argv[2])
def f():
    pass
def g():
    pass
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
    time.sleep(0.02)  # let the launcher drain between rounds
times_f.sort(); times_g.sort()
print("COST", times_f[reps // 2] / n, times_g[reps // 2] / n, flush=True)
"""

FLOOD_WORKER = r"""
import sys, time
seconds = float(sys.argv[1])
def f():
    pass
end = time.monotonic() + seconds
calls = 0
while time.monotonic() < end:
    for _ in range(10_000):
        f()
    calls += 10_000
print("FLOOD", calls / seconds, flush=True)
"""

PACED_WORKER = r"""
import sys, time
rate, seconds = float(sys.argv[1]), float(sys.argv[2])
def f():
    pass
start = time.monotonic()
done = 0
while True:
    now = time.monotonic()
    if now - start >= seconds:
        break
    due = int((now - start) * rate)
    while done < due:
        f()
        done += 1
    time.sleep(0.001)
print("PACED", done / seconds, flush=True)
"""


def speedbump_command(python):
    found = Path(python).parent / "speedbump"
    return str(found) if found.exists() else shutil.which("speedbump") or "speedbump"


def run(speedbump, python, script, args, latency, tmp, extra=()):
    out = Path(tmp) / "run.jsonl"
    if out.exists():
        out.unlink()
    cmd = [speedbump, "run", "--pattern", "__main__:f", "--delay", "0", "--quiet",
           "--json", str(out), *extra]
    if latency:
        cmd += ["--latency", "__main__:f"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    proc = subprocess.run([*cmd, "--", python, "-c", script, *map(str, args)],
                          capture_output=True, text=True, env=env, check=False, timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"speedbump run failed ({proc.returncode}):\n{proc.stderr}")
    summary = [json.loads(line) for line in out.read_text().splitlines()
               if line and json.loads(line)["type"] == "summary"][0]
    return proc.stdout, summary


def measure_cost(speedbump, python, rounds, tmp):
    added = {"plain": [], "latency": []}
    for _ in range(rounds):
        for name, latency in (("plain", False), ("latency", True)):
            stdout, _ = run(speedbump, python, COST_WORKER, (200_000, 7), latency, tmp)
            line = [x for x in stdout.splitlines() if x.startswith("COST")][0]
            f_ns, g_ns = map(float, line.split()[1:])
            added[name].append(f_ns - g_ns)
    plain = statistics.median(added["plain"])
    with_latency = statistics.median(added["latency"])
    pairs = [b - a for a, b in zip(added["plain"], added["latency"])]
    return {
        "matched_ns_per_call": plain,
        "matched_latency_ns_per_call": with_latency,
        "latency_adds_ns_per_call": statistics.median(pairs),
        "rounds": rounds,
    }


def measure_overflow(speedbump, python, tmp):
    stdout, s = run(speedbump, python, FLOOD_WORKER, (3,), True, tmp)
    rate = float([x for x in stdout.splitlines() if x.startswith("FLOOD")][0].split()[1])
    f = [x for x in s["functions"] if x["name"] == "__main__:f"][0]
    p = [x for x in s["latency"]["points"] if x["name"] == "__main__:f"][0]
    dropped = s["latency"]["dropped"]
    return {
        "completions_per_s": rate,
        "calls_counted": f["calls"],
        "requests_recorded": p["samples"] + p["errors"],
        "dropped": dropped,
        "no_count_lost": f["calls"] == p["samples"] + p["errors"] + dropped,
    }


def measure_launcher_cpu(speedbump, python, tmp, rate=100_000, seconds=5):
    out = {}
    for name, latency in (("without --latency", False), ("with --latency", True)):
        stdout, s = run(speedbump, python, PACED_WORKER, (rate, seconds), latency, tmp,
                        extra=("--interval", "100ms"))
        achieved = float([x for x in stdout.splitlines() if x.startswith("PACED")][0].split()[1])
        out[name] = {
            "completions_per_s": achieved,
            "launcher_cpu_share": s["launcher_cpu_s"] / s["wall_s"],
            "dropped": s["latency"]["dropped"],
        }
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    python = sys.executable
    speedbump = speedbump_command(python)
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "python": sys.version.split()[0],
            "cost": measure_cost(speedbump, python, args.rounds, tmp),
            "overflow": measure_overflow(speedbump, python, tmp),
            "launcher_cpu": measure_launcher_cpu(speedbump, python, tmp),
        }
    c = results["cost"]
    print(f"cost per call (median of {c['rounds']} interleaved process pairs):")
    print(f"  matched, delay 0:              {c['matched_ns_per_call']:7.1f} ns")
    print(f"  matched + latency point:       {c['matched_latency_ns_per_call']:7.1f} ns")
    print(f"  latency adds:                  {c['latency_adds_ns_per_call']:7.1f} ns"
          f"   (bar <= 60 ns: {'ok' if c['latency_adds_ns_per_call'] <= 60 else 'MISSED'})")
    o = results["overflow"]
    print(f"overflow at {o['completions_per_s'] / 1e6:.2f}M completions/s: "
          f"{o['calls_counted']} calls counted = {o['requests_recorded']} recorded + "
          f"{o['dropped']} dropped: {'no count lost' if o['no_count_lost'] else 'COUNTS DIFFER'}")
    for name, r in results["launcher_cpu"].items():
        print(f"launcher CPU at {r['completions_per_s'] / 1e3:.0f}k completions/s, 10 Hz, "
              f"{name}: {100 * r['launcher_cpu_share']:.2f}% of a core"
              + ("" if name.startswith("without") else
                 f" (bar < 2%: {'ok' if r['launcher_cpu_share'] < 0.02 else 'MISSED'})"))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
