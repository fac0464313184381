"""Benchmarks of `speedbump run` (issue 3 bars). Prints a table.

    .venv-3.12/bin/python benches/run_bench.py [--quick]

1. Settings-change latency across 4 hooked processes: ~50 changes (delay
   0 <-> 100 us every 300 ms), the time from publication to each process
   reporting the new generation (as measured by the launcher, polling the
   segment headers every 0.2 ms): median, p90, max over all (change,
   process) pairs, and the distribution of the per-change maximum.
2. Launcher CPU while sampling at 10 Hz (and 100 Hz) against a busy
   4-process workload (20 s), from the launcher's own getrusage (summary
   `launcher_cpu_s`), writing --json samples.
3. Cost of sampling on hooked calls: one busy process (a core left for the
   launcher) timed with the launcher sampling at 10 Hz, at 100 Hz, and
   practically not at all (--interval 60s); runs interleaved, 3 of each.

Needs the `speedbump` binary next to this Python (scripts/setup.sh) and a
hook that follows the control block.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PYTHON = sys.executable
SPEEDBUMP = shutil.which("speedbump") or str(Path(PYTHON).parent / "speedbump")
QUICK = "--quick" in sys.argv


def run(options, command, cwd, timeout=600):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    out = Path(cwd) / "run.jsonl"
    proc = subprocess.run(
        [SPEEDBUMP, "run", *options, "--json", str(out), "--quiet", "--", *command],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"speedbump run failed ({proc.returncode}):\n{proc.stderr}")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    out.unlink()
    return proc, records


def percentile(values, q):
    values = sorted(values)
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


def latency(cwd):
    changes = 16 if QUICK else 50
    lines = ["at 1s delay 100us"]
    for i in range(1, changes):
        lines.append(f"at +300ms delay {'0' if i % 2 else '100us'}")
    (Path(cwd) / "schedule.txt").write_text("\n".join(lines) + "\n")
    seconds = 1.0 + 0.3 * changes + 1.0
    _, records = run(
        ["--pattern", "__main__:tick", "--delay", "0", "--schedule", "schedule.txt"],
        [PYTHON, str(EXAMPLES / "run_retarget.py"), str(seconds), "calls.json", "4"], cwd)
    applied = [r for r in records if r["type"] == "applied"]
    pairs = [p["latency_ms"] for a in applied for p in a["processes"]]
    missing = sum(1 for p in pairs if p is None)
    pairs = [p for p in pairs if p is not None]
    maxima = [a["max_latency_ms"] for a in applied if a["max_latency_ms"] is not None]
    procs = statistics.median(len(a["processes"]) for a in applied)
    return [
        ("settings changes", f"{len(applied)} x {procs:.0f} processes", ""),
        ("latency per process: median", f"{statistics.median(pairs):.1f} ms", "bar: 50 ms"),
        ("latency per process: p90", f"{percentile(pairs, 0.9):.1f} ms", ""),
        ("latency per process: max", f"{max(pairs):.1f} ms", ""),
        ("all processes: median / p90 / max",
         f"{statistics.median(maxima):.1f} / {percentile(maxima, 0.9):.1f} / {max(maxima):.1f} ms",
         f"{missing} timed out"),
    ]


def launcher_cpu(cwd):
    seconds = 8 if QUICK else 20
    rows = []
    for label, interval in (("10 Hz", "100ms"), ("100 Hz", "10ms")):
        options = ["--pattern", "__main__:*", "--delay", "0", "--interval", interval]
        _, records = run(options, [PYTHON, str(EXAMPLES / "run_busy.py"), str(seconds), "4"], cwd)
        summary = records[-1]
        share = summary["launcher_cpu_s"] / summary["wall_s"] * 100
        calls = sum(f["calls"] for f in summary["functions"])
        rows.append((f"launcher CPU at {label}, 4 busy processes, --json",
                     f"{share:.2f}% of a core",
                     (f"{summary['launcher_cpu_s']:.2f} s in {summary['wall_s']:.1f} s; "
                     f"{calls / summary['wall_s'] / 1e6:.1f}M hooked calls/s")))
    return rows


def sampling_cost(cwd):
    seconds = 3 if QUICK else 6
    settings = {"10 Hz": "100ms", "100 Hz": "10ms", "off (60 s)": "60s"}
    results = {k: [] for k in settings}
    for _ in range(2 if QUICK else 3):
        for label, interval in settings.items():
            proc, _records = run(["--pattern", "__main__:*", "--delay", "0", "--interval", interval],
                                [PYTHON, str(EXAMPLES / "run_busy.py"), str(seconds), "1"], cwd)
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            results[label].append(seconds * 1e9 / result["calls"])
    base = statistics.median(results["off (60 s)"])
    rows = []
    for label, values in results.items():
        per_call = statistics.median(values)
        spread = (max(values) - min(values)) / per_call * 100
        rows.append((f"hooked call, sampling {label}", f"{per_call:.1f} ns",
                     f"{(per_call / base - 1) * 100:+.1f}% vs off; spread {spread:.1f}%"))
    return rows


def main():
    if not Path(SPEEDBUMP).exists():
        sys.exit("no speedbump binary next to this Python; run scripts/setup.sh")
    rows = []
    with tempfile.TemporaryDirectory() as cwd:
        rows += latency(cwd)
        rows += launcher_cpu(cwd)
        rows += sampling_cost(cwd)
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"speedbump run benchmark ({os.cpu_count()} CPUs, Python {sys.version.split()[0]})")
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>{value_width}}  {note}")


if __name__ == "__main__":
    main()
