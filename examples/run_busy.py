"""A busy workload: PROCESSES processes (4 by default; 1 = this process)
call small functions as fast as they can for SECONDS and report progress.
Prints {"calls": N, "seconds": S, "processes": P} (calls of `leaf` and
`middle`). For launcher CPU and overhead measurements (benches/run_bench.py,
docs/run.md).

    python examples/run_busy.py SECONDS [PROCESSES]
"""

import json
import multiprocessing as mp
import sys
import time

try:
    import speedbump
except ImportError:
    speedbump = None


def leaf(x):
    return x + 1


def middle(x):
    return leaf(x) * 2


def spin(seconds):
    end = time.monotonic() + seconds
    calls = 0
    while time.monotonic() < end:
        for i in range(1000):
            middle(i)
        calls += 2000
        if speedbump is not None:
            speedbump.progress(1000)
    return calls


def main():
    seconds = float(sys.argv[1])
    processes = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    if processes == 1:
        calls = spin(seconds)
    else:
        mp.set_start_method("spawn")
        with mp.Pool(processes) as pool:
            calls = sum(pool.map(spin, [seconds] * processes, chunksize=1))
    print(json.dumps({"calls": calls, "seconds": seconds, "processes": processes}))


if __name__ == "__main__":
    main()
