#!/usr/bin/env python3
"""Start-up of a hooked interpreter with a very large targets file
(issue 11 item 18): wall time and peak memory of `python -c` with
SPEED_BUMP_TARGETS naming 100,000 patterns (one of which matches), against
the same interpreter with no targets, medians of interleaved runs.

    .venv/bin/python benches/patterns_bench.py            # ~20 s
    .venv/bin/python benches/patterns_bench.py --patterns 10000 --runs 9

Run it with the Python of a venv where scripts/setup.sh installed speedbump.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROGRAM = "def f():\n    pass\nf()\n"


def run(python: str, env: dict) -> tuple:
    """(wall seconds, peak RSS MiB, stderr lines) of one interpreter run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    done = subprocess.run([python, "-c", PROGRAM], env=env, capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # ru_maxrss of children is the largest of any child so far: the hooked
    # runs are the large ones, so after them it is theirs.
    return wall, max(peak, before) / 1024, len(done.stderr.splitlines())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patterns", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    with tempfile.TemporaryDirectory() as tmp:
        targets = Path(tmp) / "targets.txt"
        targets.write_text("".join(f"mod{i}.sub:func_{i}\n" for i in range(args.patterns))
                           + "__main__:f\n")
        hooked = dict(env, SPEED_BUMP_TARGETS=str(targets))
        plain, big, lines = [], [], []
        for _ in range(args.runs):
            plain.append(run(sys.executable, env)[0])
            wall, peak, stderr_lines = run(sys.executable, hooked)
            big.append(wall)
            lines.append(stderr_lines)
        print(f"| Python {sys.version.split()[0]} | no targets | {args.patterns + 1:,} patterns |")
        print("|---|---:|---:|")
        print(f"| start-up and exit, median of {args.runs} | {statistics.median(plain) * 1e3:.0f} ms "
              f"| {statistics.median(big) * 1e3:.0f} ms |")
        print(f"| peak memory (largest run) | | {peak:.0f} MiB |")
        print(f"| speedbump lines on stderr | 0 | {max(lines)} |")


if __name__ == "__main__":
    main()
