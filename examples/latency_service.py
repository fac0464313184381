"""Reference workload for request latency: an asyncio service whose handler
has a known latency distribution, and which prints its own percentiles.

    python examples/latency_service.py [--clients 32] [--seconds 3] [--error-every 50]
        [--processes 1] [--start-method fork|spawn|forkserver]

--clients concurrent client coroutines call `await handle(i)` in a closed
loop for --seconds. `__main__:handle` is the request: a little Python, then
`await asyncio.sleep(d)` with d drawn from a fixed mixture (90%: uniform
1-5 ms, 10%: uniform 20-40 ms), so p50 ≈ 3.2 ms and p99 ≈ 38 ms, plus the
event loop's scheduling. Every --error-every-th request raises ValueError
after its sleep (the client catches it): a request that failed.

KNOWN ANSWER: the service times every request itself around the `await`
(time.monotonic_ns) and prints, at the end, one line

    service: {"requests": N, "errors": E, "p50_ns": ..., "p90_ns": ..., "p99_ns": ..., "max_ns": ...}

over the requests that returned (errors counted apart), summed over all
processes. `speedbump run --latency __main__:handle --pattern '__main__:handle' --delay 0`
must report the same counts and percentiles within a few percent: it times
the same calls from the coroutine's first start to its final return.
With --processes N the service runs in N worker processes (multiprocessing,
--start-method), each with its own event loop and clients.
"""

import argparse
import asyncio
import json
import multiprocessing
import random
import time


async def handle(i, error_every, rng):
    x = i
    for _ in range(20):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    if rng.random() < 0.9:
        delay = rng.uniform(0.001, 0.005)
    else:
        delay = rng.uniform(0.020, 0.040)
    await asyncio.sleep(delay)
    if error_every and i % error_every == 0:
        raise ValueError(f"request {i} failed")
    return x


async def client(k, stop_at, error_every, latencies, errors):
    rng = random.Random(k)
    loop = asyncio.get_running_loop()
    i = k * 1_000_000
    while loop.time() < stop_at:
        i += 1
        start = time.monotonic_ns()
        try:
            await handle(i, error_every, rng)
        except ValueError:
            errors.append(time.monotonic_ns() - start)
            continue
        latencies.append(time.monotonic_ns() - start)


async def serve(clients, seconds, error_every):
    latencies, errors = [], []
    stop_at = asyncio.get_running_loop().time() + seconds
    await asyncio.gather(
        *(client(k, stop_at, error_every, latencies, errors) for k in range(clients))
    )
    return latencies, len(errors)


def worker(clients, seconds, error_every, queue):
    latencies, errors = asyncio.run(serve(clients, seconds, error_every))
    queue.put((latencies, errors))


def percentile(values, q):
    """The smallest value with at least q of the values at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--error-every", type=int, default=50)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--start-method", default="spawn",
                        choices=["fork", "spawn", "forkserver"])
    args = parser.parse_args()
    if args.processes <= 1:
        latencies, errors = asyncio.run(serve(args.clients, args.seconds, args.error_every))
    else:
        ctx = multiprocessing.get_context(args.start_method)
        queue = ctx.Queue()
        procs = [ctx.Process(target=worker,
                             args=(args.clients, args.seconds, args.error_every, queue))
                 for _ in range(args.processes)]
        for p in procs:
            p.start()
        latencies, errors = [], 0
        for _ in procs:
            lat, err = queue.get()
            latencies += lat
            errors += err
        for p in procs:
            p.join()
    figures = {
        "requests": len(latencies),
        "errors": errors,
        "p50_ns": percentile(latencies, 0.50),
        "p90_ns": percentile(latencies, 0.90),
        "p99_ns": percentile(latencies, 0.99),
        "max_ns": max(latencies),
    }
    print("service: " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
