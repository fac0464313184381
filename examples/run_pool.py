"""A 4-process spawn pool with known call counts, for `speedbump run` tests.

    python examples/run_pool.py [CALLS_PER_TASK...]

Each task calls `step()` exactly N times in a worker of its own (the tasks
meet at a barrier, so each needs a different worker); the parent prints the
total. With `--hold FILE`, the workers then wait (so tests can look at the
running session) and the parent writes every pid and the session directory
to FILE, one per line, and waits until it is killed.
"""

import multiprocessing as mp
import os
import sys
import time

_barrier = None


def step():
    pass


def init(barrier):
    global _barrier
    _barrier = barrier


def work(n):
    for _ in range(n):
        step()
    _barrier.wait(timeout=60)
    return n


def hold(_):
    time.sleep(600)


def main():
    args = sys.argv[1:]
    hold_file = None
    if args[:1] == ["--hold"]:
        hold_file, args = args[1], args[2:]
    counts = [int(a) for a in args] or [1000, 2000, 3000, 4000]
    mp.set_start_method("spawn")
    with mp.Pool(4, initializer=init, initargs=(mp.Barrier(len(counts)),)) as pool:
        total = sum(pool.map(work, counts, chunksize=1))
        print(f"total {total}", flush=True)
        if hold_file:
            pool.map_async(hold, range(4), chunksize=1)
            time.sleep(0.5)
            pids = [p.pid for p in pool._pool] + [os.getpid()]
            lines = [str(p) for p in pids] + [os.environ.get("SPEED_BUMP_SESSION", "")]
            tmp = hold_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("\n".join(lines) + "\n")
            os.replace(tmp, hold_file)
            time.sleep(600)


if __name__ == "__main__":
    main()
