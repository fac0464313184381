"""The ranking bars of issue 10 on real processes (docs/ranking.md).

    .venv-3.13/bin/python benches/rank_bench.py [--runs 3] [--children 5,17]

Runs `speedbump rank --under serving --progress __main__:Engine.step` with
default options on examples/serving_loop.py (one quiet critical stage,
`serving.sched`, among busy stages hidden behind a device; ground truth by
editing the code: tests/python/test_rank.py) with 5 and 17 children, and
prints per run: the wall time, the leader and its criticality interval, the
highest hidden criticality, whether every child was measured, and whether
the bar holds (critical first with criticality in [0.6, 1.5], its interval
above every hidden one, no hidden stage above 0.3, every child measured,
within 90 s for 5 children and 150 s for 17). Timing bars need a quiet
machine: run nothing else meanwhile.

Needs the `speedbump` binary next to this Python (scripts/setup.sh).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SPEEDBUMP = shutil.which("speedbump") or str(Path(PYTHON).parent / "speedbump")
WALL_BAR_S = {5: 90.0, 17: 150.0}


def rank(children):
    with tempfile.TemporaryDirectory() as cwd:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
        start = time.monotonic()
        proc = subprocess.run(
            [SPEEDBUMP, "rank", "--under", "serving", "--progress", "__main__:Engine.step",
             "--", PYTHON, str(ROOT / "examples" / "serving_loop.py"),
             "--children", str(children), "--seconds", "1000"],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
        wall = time.monotonic() - start
        if proc.returncode not in (0, 1):
            sys.exit(f"speedbump rank failed ({proc.returncode}):\n{proc.stderr}")
        results = json.loads((Path(cwd) / "results.json").read_text())
    (ranked,) = [e["rank"]["ranked"] for e in results["experiments"] if e["kind"] == "rank"]
    return wall, ranked


def verdict(children, wall, ranked):
    first = ranked[0]
    hidden = ranked[1:]
    lead = first.get("criticality_interval") or {}
    crit = first.get("criticality")
    highest_hidden = max((c.get("criticality") or 0.0) for c in hidden)
    separated = all(
        (c.get("criticality_interval") or {}).get("high", 1e9) < lead.get("low", -1e9)
        for c in hidden)
    measured = len(ranked) == children
    holds = (first["label"] == "serving.sched" and crit is not None and 0.6 <= crit <= 1.5
             and separated and highest_hidden <= 0.3 and measured
             and wall <= WALL_BAR_S.get(children, float("inf")))
    interval = f"[{lead.get('low', float('nan')):.2f}, {lead.get('high', float('nan')):.2f}]"
    return (f"| {children} | {wall:.0f} s | {first['label']} | "
            f"{crit if crit is None else round(crit, 2)} {interval} | {highest_hidden:.2f} | "
            f"{'yes' if separated else 'no'} | {'yes' if measured else 'no'} | "
            f"{'**holds**' if holds else 'fails'} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--children", default="5,17")
    args = parser.parse_args()
    print("| children | wall | first | its criticality [95%] | highest hidden | separated "
          "| all measured | bar |")
    print("|---|---|---|---|---|---|---|---|")
    for children in (int(c) for c in args.children.split(",")):
        for _ in range(args.runs):
            wall, ranked = rank(children)
            print(verdict(children, wall, ranked), flush=True)


if __name__ == "__main__":
    main()
