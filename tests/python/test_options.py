"""Timing windows, generator resumes and C calls."""

import json

from conftest import PYTHON_VERSION, function, needs_sys_monitoring

WINDOW = """
import json, os, time

def f():
    pass

# Process start on CLOCK_BOOTTIME, from the kernel (10 ms ticks: the middle).
ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
hz = os.sysconf("SC_CLK_TCK")
start = (ticks + 0.5) / hz
f()  # the first call decides and creates the segment: not a delay
calls = []
deadline = time.clock_gettime(time.CLOCK_BOOTTIME) - start + 0.9
while True:
    now = time.clock_gettime(time.CLOCK_BOOTTIME) - start
    if now > deadline:
        break
    t0 = time.perf_counter_ns()
    f()
    calls.append((now, time.perf_counter_ns() - t0 > 150_000))
# The window: from the first to the last call of runs of 5 delayed calls in a
# row (a preemption on a busy machine makes single slow calls anywhere).
flags = [d for _, d in calls]
runs = [i for i in range(len(flags) - 4) if all(flags[i:i + 5])]
print(json.dumps([calls[runs[0]][0], calls[runs[-1] + 4][0], sum(flags)] if runs else None))
"""


def test_window_edges_are_measured_from_process_start(run_py):
    r = run_py(WINDOW, patterns="__main__:f", env={
        "SPEED_BUMP_DELAY_NS": "200us", "SPEED_BUMP_START_MS": "400",
        "SPEED_BUMP_DURATION_MS": "300"})
    assert r.returncode == 0, r.stderr
    first, last, count = json.loads(r.stdout)
    # Generous bounds (the bar, 10 ms, is measured by benches/hook_bench.py).
    assert 0.38 <= first <= 0.45, first
    assert 0.65 <= last <= 0.72, last
    assert count > 100
    f = function(r.report, "__main__:f")
    assert f["delayed_calls"] < f["calls"]


def test_generator_resumes_are_delayed_only_when_asked(run_py):
    source = """
    def numbers():
        for i in range(100):
            yield i

    assert sum(numbers()) == 4950
    """
    r = run_py(source, patterns="__main__:numbers")
    assert function(r.report, "__main__:numbers")["delayed_calls"] == 1
    r = run_py(source, patterns="__main__:numbers", env={"SPEED_BUMP_RESUME": "1"})
    # One start and 100 resumes (the last next() raises StopIteration).
    assert function(r.report, "__main__:numbers")["delayed_calls"] == 101


def test_coroutine_resumes(run_py):
    source = """
    import asyncio

    async def handler():
        for _ in range(10):
            await asyncio.sleep(0)

    asyncio.run(handler())
    """
    r = run_py(source, patterns="__main__:handler", env={"SPEED_BUMP_RESUME": "1"})
    assert r.returncode == 0, r.stderr
    assert function(r.report, "__main__:handler")["delayed_calls"] == 11


@needs_sys_monitoring
def test_c_functions_are_matched_at_call_sites(run_py):
    source = """
    import math
    total = 0.0
    for i in range(1000):
        total += math.sqrt(i)
    for i in range(10):
        math.floor(1.5)
    print(round(total))
    """
    r = run_py(source, patterns="math:sqrt", env={"SPEED_BUMP_C_CALLS": "1"})
    assert r.returncode == 0, r.stderr
    sqrt = function(r.report, "math:sqrt")
    assert sqrt["kind"] == "c"
    assert sqrt["delayed_calls"] == 1000
    assert {f["name"] for f in r.report["functions"]} == {"math:sqrt"}
    # Without the option, C functions are never matched.
    r = run_py(source, patterns="math:sqrt")
    assert r.report["functions_matched"] == 0


@needs_sys_monitoring
def test_c_methods_of_builtin_types(run_py):
    source = """
    data = bytearray(b"abc")
    for i in range(50):
        data.reverse()
    """
    r = run_py(source, patterns="builtins:bytearray.reverse", env={"SPEED_BUMP_C_CALLS": "1"})
    assert r.returncode == 0, r.stderr
    assert function(r.report, "builtins:bytearray.reverse")["calls"] == 50


def test_c_calls_say_plainly_they_cannot_be_seen_before_3_12(run_py):
    source = """
    import math
    for i in range(100):
        math.sqrt(i)
    """
    r = run_py(source, patterns="math:sqrt", env={"SPEED_BUMP_C_CALLS": "1"})
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.speedbump_lines() if "C function calls cannot be seen" in line]
    if PYTHON_VERSION >= (3, 12):
        assert notes == []
        assert function(r.report, "math:sqrt")["calls"] == 100
    else:
        assert len(notes) == 1, r.stderr
        assert r.report["functions_matched"] == 0
