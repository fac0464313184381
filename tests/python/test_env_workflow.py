"""The methodology's environment-variable workflow, end to end."""

import re
from pathlib import Path

from conftest import function, leftover_files

LOOP = """
import time

def f():
    return 1

def g():
    return 2

def main(n):
    t0 = time.perf_counter_ns()
    for _ in range(n):
        f()
    t1 = time.perf_counter_ns()
    for _ in range(n):
        g()
    t2 = time.perf_counter_ns()
    print(t1 - t0, t2 - t1)

main(N)
"""


def timed(run, n, **kw):
    r = run(LOOP.replace("N", str(n)), **kw)
    assert r.returncode == 0, r.stderr
    f_ns, g_ns = map(int, r.stdout.split())
    return r, f_ns, g_ns


def test_every_function_is_slowed_without_importing_speedbump(run_py):
    n = 2000
    r, f_ns, g_ns = timed(run_py, n, patterns="*:*\n", env={"SPEED_BUMP_DELAY_NS": "10000"})
    # 10 µs per call: 20 ms per loop at least; generous upper bound for a busy machine.
    assert f_ns >= n * 10_000 * 0.95
    assert g_ns >= n * 10_000 * 0.95
    assert f_ns < n * 10_000 * 5
    assert function(r.report, "__main__:f")["delayed_calls"] == n
    assert function(r.report, "__main__:g")["delayed_calls"] == n
    injected = function(r.report, "__main__:f")["injected_ns"]
    # Upper bound generous: a spin preempted on 2 busy cores records its
    # overshoot (exact figures: benches/hook_bench.py).
    assert n * 10_000 * 0.95 <= injected <= n * 10_000 * 4


def test_only_matching_functions_are_slowed(run_py):
    n = 2000
    r, f_ns, g_ns = timed(run_py, n, patterns="__main__:f\n", env={"SPEED_BUMP_DELAY_NS": "100us"})
    assert f_ns >= n * 100_000 * 0.95
    # g is unmatched: far below one delay per call even on a loaded machine.
    assert g_ns < n * 10_000
    names = {f["name"] for f in r.report["functions"]}
    assert names == {"__main__:f"}


def test_default_delay_is_one_microsecond(run_py):
    r, _, _ = timed(run_py, 1000, patterns="__main__:f\n")
    f = function(r.report, "__main__:f")
    assert r.report["settings"]["delay_ns"] == 1000
    assert f["delayed_calls"] == 1000
    assert 1000 * 1000 * 0.9 <= f["injected_ns"] <= 1000 * 1000 * 3


def test_delay_zero_counts_but_never_spins(run_py):
    n = 20000
    r, f_ns, _ = timed(run_py, n, patterns="__main__:f\n", env={"SPEED_BUMP_DELAY_NS": "0"})
    f = function(r.report, "__main__:f")
    assert f["calls"] == n
    assert f["delayed_calls"] == 0 and f["injected_ns"] == 0
    assert f_ns < n * 1000  # far below 1 µs per call


def test_units_are_accepted(run_py):
    for value, ns in [("10us", 10_000), ("10µs", 10_000), ("1ms", 1_000_000), ("2500", 2500)]:
        r = run_py("def f(): pass\nf()\n", patterns="__main__:f",
                   env={"SPEED_BUMP_DELAY_NS": value})
        assert r.returncode == 0, r.stderr
        assert r.report["settings"]["delay_ns"] == ns


def test_frequency_counts_calls_over_all_threads(run_py):
    source = """
    import threading

    def f():
        pass

    def worker():
        for _ in range(250):
            f()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    """
    r = run_py(source, patterns="__main__:f",
               env={"SPEED_BUMP_FREQUENCY": "10", "SPEED_BUMP_DELAY_NS": "5us"})
    assert r.returncode == 0, r.stderr
    f = function(r.report, "__main__:f")
    assert f["calls"] == 1000
    assert f["delayed_calls"] == 100


def test_return_values_and_exceptions_are_untouched(run_py):
    source = """
    class Boom(Exception):
        pass

    def value(x):
        return x * 2

    def fails():
        raise Boom("as designed")

    def gen():
        yield 1
        yield 2

    assert value(21) == 42
    try:
        fails()
    except Boom as e:
        assert str(e) == "as designed"
    assert list(gen()) == [1, 2]
    print("ok")
    """
    r = run_py(source, env={"SPEED_BUMP_DELAY_NS": "1us"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_summary_line_at_exit_and_quiet(run_py):
    source = "def f(): pass\nfor _ in range(100): f()\n"
    r = run_py(source, patterns="__main__:f", env={"SPEED_BUMP_DELAY_NS": "10us"}, report=False)
    lines = r.speedbump_lines()
    assert len(lines) == 1, r.stderr
    summary = re.fullmatch(
        r"speedbump: 1 function matched; 100 of 100 calls delayed by 10\.0 µs; (\d+\.\d\d) ms injected",
        lines[0],
    )
    assert summary, lines[0]
    # 1 ms requested; what a spin measures includes preemptions on a busy
    # machine, so only a generous upper bound.
    assert 0.95 <= float(summary.group(1)) < 100, lines[0]
    r = run_py(source, patterns="__main__:f",
               env={"SPEED_BUMP_DELAY_NS": "10us", "SPEED_BUMP_QUIET": "1"}, report=False)
    assert r.stderr == ""


def test_nothing_is_left_behind(run_py, runtime_dir):
    r = run_py("def f(): pass\nf()\n", patterns="__main__:f")
    assert r.returncode == 0
    sessions = [p for p in leftover_files(runtime_dir) if Path(p).name.startswith("s-")]
    assert sessions == []


def test_cprofile_runs_beside_the_hook(run_py):
    source = "def f(): pass\nfor _ in range(10): f()\n"
    r = run_py(source, patterns="__main__:f", python_args=("-m", "cProfile"))
    assert r.returncode == 0, r.stderr
    assert "function calls" in r.stdout  # cProfile's own report
    assert function(r.report, "__main__:f")["calls"] == 10


def test_progress_is_counted(run_py):
    source = """
    import speedbump
    for _ in range(7):
        speedbump.progress()
    speedbump.progress(5, name="tokens")
    assert speedbump.is_active()
    """
    r = run_py(source, patterns="__main__:nothing_matches_this")
    assert r.returncode == 0, r.stderr
    progress = {p["name"]: p["units"] for p in r.report["progress"]}
    assert progress == {"": 7, "tokens": 5}


def test_progress_is_a_no_op_without_the_hook(run_py):
    r = run_py("import speedbump\nspeedbump.progress(3)\nprint(speedbump.is_active())\n",
               patterns=None)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
    assert r.stderr == ""


def test_code_first_run_during_finalization_leaves_nothing(run_py, runtime_dir):
    # __del__ of a global runs at interpreter teardown, after the summary and
    # the removal of the session directory: it must not create them again.
    source = """
    class Thing:
        def __del__(self):
            pass

    thing = Thing()
    """
    r = run_py(source, patterns="__main__:Thing.__del__")
    assert r.returncode == 0, r.stderr
    sessions = [p for p in leftover_files(runtime_dir) if Path(p).name.startswith("s-")]
    assert sessions == []
