"""Reference workload: a pure-Python CPU loop (everything is on the critical
path). Each item goes through three small functions; the loop prints its
throughput at the end.

    python examples/cpu_loop.py [--items 200000]

Known answer: slowing any of its functions by d per call lowers throughput
as if each item took (calls per item x d) longer; criticality is 1.
"""

import argparse
import time

try:  # count units of work for speedbump's experiments, when present
    from speedbump import progress
except ImportError:  # pragma: no cover - runs without speedbump too
    def progress(n=1, name=None):
        pass


def parse(i):
    return (i * 2654435761) & 0xFFFF


def transform(x):
    return (x ^ (x >> 3)) * 3


def score(x):
    return x % 97


def run(items):
    total = 0
    for i in range(items):
        total += score(transform(parse(i)))
        if i % 1000 == 999:
            progress(1000, name="items")
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    args = parser.parse_args()
    start = time.perf_counter()
    checksum = run(args.items)  # kept so the work cannot be skipped
    elapsed = time.perf_counter() - start
    print(f"Throughput: {args.items / elapsed:.0f} items/s")
    return checksum


if __name__ == "__main__":
    main()
