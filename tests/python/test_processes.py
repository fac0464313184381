"""Children inherit the variables: spawn, forkserver, fork and subprocess."""

import pytest

from conftest import function

POOL = """
import multiprocessing as mp

def work(n):
    for _ in range(n):
        step()
    return n

def step():
    pass

if __name__ == "__main__":
    import os
    mp.set_start_method("METHOD")
    with mp.Pool(2) as pool:
        assert sum(pool.map(work, [100, 200, 300, 400], chunksize=1)) == 1000
    print(os.getpid())
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_pool_children_are_hooked_and_counted(run_py, method):
    r = run_py(POOL.replace("METHOD", method), patterns="__main__:step",
               env={"SPEED_BUMP_DELAY_NS": "1us"})
    assert r.returncode == 0, r.stderr
    step = function(r.report, "__main__:step")
    assert step["calls"] == 1000
    assert step["delayed_calls"] == 1000
    # Only workers ran step(): each counted in a segment of its own.
    root = int(r.stdout)
    pids = {p["pid"] for p in r.report["processes"] if p["calls"]}
    assert pids and root not in pids
    assert sum(p["calls"] for p in r.report["processes"]) == 1000
    assert len(r.speedbump_lines()) == 1, r.stderr  # one summary, from the root


def test_fork_children_get_their_own_counts(run_py):
    source = """
    import os

    def f():
        pass

    for _ in range(5):
        f()
    pid = os.fork()
    if pid == 0:
        for _ in range(10):
            f()
        os._exit(0)
    os.waitpid(pid, 0)
    print(pid)
    """
    r = run_py(source, patterns="__main__:f")
    assert r.returncode == 0, r.stderr
    child = int(r.stdout)
    by_pid = {p["pid"]: p for p in r.report["processes"]}
    assert by_pid[child]["calls"] == 10
    parent = [p for pid, p in by_pid.items() if pid != child]
    assert [p["calls"] for p in parent] == [5]
    assert function(r.report, "__main__:f")["calls"] == 15


def test_subprocess_running_python_is_hooked(run_py):
    source = """
    import subprocess, sys
    subprocess.run([sys.executable, "child.py"], check=True, cwd="sub")
    """
    child = "def leaf(): pass\nfor _ in range(42): leaf()\n"
    r = run_py(source, patterns="__main__:leaf", files={"sub/child.py": child})
    assert r.returncode == 0, r.stderr
    assert function(r.report, "__main__:leaf")["calls"] == 42


def test_spawn_main_counts_as_main(run_py):
    source = """
    import multiprocessing as mp

    def hello():
        pass

    def child():
        assert __name__ == "__mp_main__"
        hello()

    if __name__ == "__main__":
        ctx = mp.get_context("spawn")
        p = ctx.Process(target=child)
        p.start(); p.join()
        assert p.exitcode == 0
    """
    r = run_py(source, patterns="__main__:hello")
    assert r.returncode == 0, r.stderr
    assert function(r.report, "__main__:hello")["calls"] == 1
