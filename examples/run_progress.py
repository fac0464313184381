"""Units of work three ways, for the progress sources of `speedbump run`.

    python examples/run_progress.py UNITS SECONDS

Runs `Engine.step()` UNITS times spread over about SECONDS; each step
reports one unit with `speedbump.progress()` (when the hook is there), and
every 10th step prints a `Throughput: X items/s` line on stdout (X = 100, 200,
300, ... in turn, so the mean is known) and a `done N` line on stderr.
"""

import sys
import time

try:
    import speedbump
except ImportError:  # runs without speedbump too
    speedbump = None


class Engine:
    def step(self, i):
        if speedbump is not None:
            speedbump.progress(1)
        if i % 10 == 9:
            print(f"Throughput: {100 * ((i // 10) % 3 + 1)}.0 items/s", flush=True)
            print(f"done {i + 1}", file=sys.stderr, flush=True)


def main():
    units, seconds = int(sys.argv[1]), float(sys.argv[2])
    engine = Engine()
    pause = seconds / units
    for i in range(units):
        engine.step(i)
        time.sleep(pause)


if __name__ == "__main__":
    main()
