"""Reference workload: an asyncio TCP server with its own load loop.

    python examples/asyncio_server.py [--clients 8] [--handler-us 100] [--seconds 3]

One process, one event loop: a line-based request server on 127.0.0.1 (an
ephemeral port) and --clients concurrent client coroutines, each sending a
request and awaiting its reply in a closed loop. Throughput = replies per
second (progress, "requests"). Per request, in module `__main__`:

    handle_client    one coroutine per connection: started once, resumed
                     twice per request (when its next line arrives, and
                     when process_request's sleep(0) returns: a resume
                     passes through every coroutine of the await chain)
    process_request  a coroutine per request: --handler-us of Python split
                     in two halves around one `await asyncio.sleep(0)`, so
                     1 start + 1 resume per request
    client           one coroutine per client, resumed once per reply

KNOWN ANSWER: everything runs on one thread, so all of it is on the
critical path: throughput ≈ 1 / (handler_us + o), with o the event loop's
own Python per request (~15-50 µs here: ≈ 7000-8500 requests/s at the
defaults). sys.monitoring reports a coroutine's start once and each resume
separately, hence at delay d:
- `__main__:process_request`: 1 / (handler_us + o + d); with
  SPEED_BUMP_RESUME=1: 1 / (handler_us + o + 2d).
- `__main__:handle_client`: unchanged without SPEED_BUMP_RESUME (it starts
  once per connection); with SPEED_BUMP_RESUME=1: 1 / (handler_us + o + 2d).
"""

import argparse
import asyncio
import time

from _util import Calibration, common_args, iterations, progress

HALF = 0  # busy-loop iterations in each half of process_request


async def process_request(line):
    x = len(line)
    for _ in range(HALF):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    await asyncio.sleep(0)
    for _ in range(HALF):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
    return b"ok %d\n" % x


async def handle_client(reader, writer):
    while line := await reader.readline():
        writer.write(await process_request(line))
    writer.close()


class Counter:
    def __init__(self, every):
        self.done = 0
        self.every = every


async def client(port, stop_at, counter, report):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    while loop.time() < stop_at:
        writer.write(b"get /item\n")
        await reader.readline()
        counter.done += 1
        progress(1, name="requests")
        if counter.every and loop.time() >= report[0]:
            now = loop.time()
            print(f"Throughput: {(counter.done - report[1]) / (now - report[2]):.1f} requests/s",
                  flush=True)
            report[:] = [now + counter.every, counter.done, now]
    writer.close()
    await writer.wait_closed()


async def serve(args):
    server = await asyncio.start_server(handle_client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    counter = Counter(args.report_every)
    start = loop.time()
    report = [start + args.report_every, 0, start]
    wall = time.perf_counter()
    await asyncio.gather(*(client(port, start + args.seconds, counter, report)
                           for _ in range(args.clients)))
    elapsed = time.perf_counter() - wall
    server.close()
    await server.wait_closed()
    return counter.done, elapsed


def main():
    global HALF
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default %(default)s)")
    parser.add_argument("--handler-us", type=float, default=100.0,
                        help="Python per request in process_request (default %(default)s)")
    common_args(parser)
    args = parser.parse_args()
    HALF = iterations(args.handler_us / 2, Calibration(args.calibration_ns).ns)
    done, elapsed = asyncio.run(serve(args))
    print(f"Server: {done} requests from {args.clients} clients in {elapsed:.2f} s")
    print(f"Throughput: {done / elapsed:.1f} requests/s")


if __name__ == "__main__":
    main()
