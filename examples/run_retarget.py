"""Times every call of `tick()` for live re-targeting tests.

    python examples/run_retarget.py SECONDS OUT.json [PROCESSES]

Calls `tick()` in a loop for SECONDS in PROCESSES spawned processes (1 by
default: the main process itself) and writes, per process, a list of
[start_monotonic_ns, duration_ns] of every call to OUT.json. Compare with
the `published_monotonic_ns` of `speedbump run --json` "applied" lines: both
are CLOCK_MONOTONIC.
"""

import json
import multiprocessing as mp
import sys
import time


def tick():
    pass


def timed_loop(seconds):
    calls = []
    now = time.monotonic_ns
    end = now() + int(seconds * 1e9)
    while True:
        t0 = now()
        if t0 >= end:
            break
        tick()
        calls.append((t0, now() - t0))
        # Keep the list small: about 20k calls a second.
        while now() - t0 < 50_000:
            pass
    return calls


def main():
    seconds, out = float(sys.argv[1]), sys.argv[2]
    processes = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    if processes == 1:
        result = [timed_loop(seconds)]
    else:
        mp.set_start_method("spawn")
        with mp.Pool(processes) as pool:
            result = pool.map(timed_loop, [seconds] * processes, chunksize=1)
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
