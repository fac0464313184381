"""Request latency (`--latency MOD:QUALNAME`): the hook times each completed
call of a latency point and streams it through its segment's ring; `speedbump
run` reports percentiles, how many samples they rest on, errors apart, drops.

Every expected figure comes from the workload's own clock or from delays it
chose, never from speedbump.
"""

import json
import textwrap

from conftest import PYTHON, needs_sys_monitoring

# Latency points are timed through sys.monitoring: Python 3.12+ only
# (docs/latency.md, docs/python-versions.md).
pytestmark = needs_sys_monitoring
from test_run import EXAMPLES, sb_run, work  # noqa: F401 - pytest fixtures


def point(result, name):
    points = result.summary["latency"]["points"]
    for p in points:
        if p["name"] == name:
            return p
    raise AssertionError(f"{name} not in {[p['name'] for p in points]}; stderr:\n{result.stderr}")


def service_figures(stdout):
    lines = [line for line in stdout.splitlines() if line.startswith("service: ")]
    assert lines, f"the service printed no figures:\n{stdout}"
    return json.loads(lines[-1].removeprefix("service: "))


def assert_close(got, want, what, tolerance=0.10):
    assert abs(got - want) <= tolerance * want, f"{what}: speedbump {got} vs service {want}"


def test_asyncio_service_percentiles_match_its_own(sb_run):
    r = sb_run(
        ["--latency", "__main__:handle", "--pattern", "__main__:handle", "--delay", "0"],
        [PYTHON, str(EXAMPLES / "latency_service.py"), "--seconds", "3", "--clients", "16"],
    )
    assert r.returncode == 0, r.stderr
    own = service_figures(r.stdout)
    p = point(r, "__main__:handle")
    latency = r.summary["latency"]
    assert latency["dropped"] == 0
    # Every request is one record: exact counts, errors apart.
    assert p["samples"] == own["requests"], (p, own)
    assert p["errors"] == own["errors"] > 0, (p, own)
    assert_close(p["p50_ns"], own["p50_ns"], "p50")
    assert_close(p["p99_ns"], own["p99_ns"], "p99")
    # Live samples carry the interval's percentiles too.
    live = [s["latency"]["points"] for s in r.of_type("sample") if s["latency"]["points"]]
    assert live, "no live sample had latency figures"
    busy = [q[0] for q in live if q[0]["samples"] > 0]
    assert busy and all(q["p50_ns"] > 0 and q["p99_ns"] >= q["p50_ns"] for q in busy), live
    # A window with no request has no percentiles, not zeros.
    assert all(q[0]["p50_ns"] is None for q in live if q[0]["samples"] == 0)


def test_sync_calls_with_known_latencies_and_errors(sb_run):
    source = """
        import time

        def handle(seconds, fail=False):
            time.sleep(seconds)
            if fail:
                raise RuntimeError("failed")

        def nested(depth):
            time.sleep(0.001)
            if depth:
                nested(depth - 1)

        for i in range(200):
            handle(0.002 if i % 10 else 0.030)
        for _ in range(7):
            try:
                handle(0, fail=True)
            except RuntimeError:
                pass
        nested(3)
    """
    r = sb_run(
        ["--latency", "__main__:handle", "--latency", "__main__:nested", "--delay", "0"],
        [PYTHON, "-c", textwrap.dedent(source)],
    )
    assert r.returncode == 0, r.stderr
    h = point(r, "__main__:handle")
    assert (h["samples"], h["errors"]) == (200, 7)
    # 90% of the calls sleep 2 ms, 10% 30 ms: the median is a 2 ms call, the
    # 99th percentile a 30 ms one (sleeps overshoot a little, never undershoot).
    # Bounds above are loose: sleeps overshoot on a busy machine.
    assert 2_000_000 <= h["p50_ns"] < 20_000_000, h
    assert 30_000_000 <= h["p99_ns"] < 150_000_000, h
    n = point(r, "__main__:nested")
    # Four nested calls: 4, 3, 2 and 1 ms and more (each includes its callees).
    assert n["samples"] == 4, n
    assert n["max_ns"] >= 4_000_000, n


def test_coroutines_include_their_awaits_and_generators_their_suspensions(sb_run):
    source = """
        import asyncio, time

        async def handle(i):
            await asyncio.sleep(0.005)
            await asyncio.sleep(0.005)
            return i

        def chunks():
            for _ in range(3):
                yield 1

        async def main():
            # 50 coroutines of one function in flight at once.
            await asyncio.gather(*(handle(i) for i in range(50)))

        asyncio.run(main())
        for _ in range(20):
            for _ in chunks():
                time.sleep(0.002)   # the consumer's time is inside the generator's call
    """
    r = sb_run(
        ["--latency", "__main__:handle", "--latency", "__main__:chunks", "--delay", "0"],
        [PYTHON, "-c", textwrap.dedent(source)],
    )
    assert r.returncode == 0, r.stderr
    h = point(r, "__main__:handle")
    assert h["samples"] == 50, h
    # Two 5 ms awaits each, all concurrent: every request takes >= 10 ms, and
    # no pairing of one coroutine's start with another's end (which would
    # show as ~0 or as the whole gather).
    assert 10_000_000 <= h["p50_ns"] < 40_000_000, h
    g = point(r, "__main__:chunks")
    assert g["samples"] == 20, g
    assert g["p50_ns"] >= 6_000_000, g


def test_block_timing_with_the_context_manager(sb_run):
    source = """
        import asyncio, time, speedbump

        for i in range(30):
            try:
                with speedbump.latency("batch"):
                    time.sleep(0.003)
                    if i % 10 == 0:
                        raise KeyError(i)
            except KeyError:
                pass

        async def main():
            async with speedbump.latency("async-batch"):
                await asyncio.sleep(0.004)

        asyncio.run(main())
    """
    r = sb_run(["--delay", "0"], [PYTHON, "-c", textwrap.dedent(source)])
    assert r.returncode == 0, r.stderr
    b = point(r, "batch")
    assert (b["samples"], b["errors"]) == (27, 3)
    assert b["p50_ns"] >= 3_000_000
    a = point(r, "async-batch")
    assert a["samples"] == 1 and a["p50_ns"] >= 4_000_000


def test_fork_and_spawn_children_stream_their_own_requests(sb_run):
    for method in ("fork", "spawn"):
        r = sb_run(
            ["--latency", "__main__:handle", "--delay", "0"],
            [PYTHON, str(EXAMPLES / "latency_service.py"), "--seconds", "1.5",
             "--clients", "8", "--processes", "2", "--start-method", method],
        )
        assert r.returncode == 0, r.stderr
        own = service_figures(r.stdout)
        p = point(r, "__main__:handle")
        assert (p["samples"], p["errors"]) == (own["requests"], own["errors"]), (method, p, own)
        assert_close(p["p50_ns"], own["p50_ns"], f"{method} p50")


def test_bad_latency_point_is_refused_before_the_run(sb_run):
    r = sb_run(["--latency", "!__main__:f", "--delay", "0"], [PYTHON, "-c", "pass"])
    assert r.returncode == 2
    assert "latency point cannot be an exclusion" in r.stderr


def test_a_sweep_reports_what_each_delay_did_to_p50_and_p99(tmp_path, runtime_dir):
    # Each request (handle) calls inner once and then spins 300 µs. A delay
    # of 200 µs per call of inner adds 200 µs to every request: the p50 and
    # the p99 of the treatment windows move by that, a latency criticality
    # of 1 ns of latency per ns of delay per request.
    from test_experiments import experiments, speedbump

    (tmp_path / "w.py").write_text(textwrap.dedent("""
        import sys, time

        def inner():
            x = 0
            for i in range(200):
                x += i
            return x

        def spin(seconds):
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                pass

        def handle():
            inner()
            spin(0.0003)

        deadline = time.monotonic() + 1000
        while time.monotonic() < deadline:
            handle()
    """))
    proc = speedbump(
        ["sweep", "--latency", "__main__:handle", "--pattern", "__main__:inner",
         "--delays", "200us", "--progress", "__main__:handle", "--budget", "15s",
         "--precision", "10%", "--mode", "live", "--", PYTHON, "w.py"],
        tmp_path, runtime_dir)
    assert proc.returncode in (0, 1), proc.stderr
    (sweep,) = experiments(tmp_path, "sweep")
    (latency,) = sweep["latency"]
    assert latency["requests_per_window"] > 50, latency
    p50 = latency["p50"]
    base_ns = p50["baseline_ns"]
    assert 250_000 < base_ns < 1_500_000, p50
    # +200 µs on a ~320 µs request; generous for a busy machine.
    want = (base_ns + 200_000) / base_ns
    assert abs(p50["relative"] - want) < 0.25 * (want - 1), (p50, want)
    assert p50["interval"]["low"] > 1.0, p50
    assert 0.6 < p50["criticality"]["mean"] < 1.4, p50
    assert "latency at 200 µs/call" in proc.stdout, proc.stdout
    assert "p50" in proc.stdout and "ns per ns of delay per request" in proc.stdout
