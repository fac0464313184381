"""Safety inside someone else's process (docs/env.md): no file of the user's
at risk from another local user, and no call lost to the hook's own
machinery (calibration, exec, session directories)."""

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import PYTHON, PYTHON_VERSION, function, leftover_files


def sessions_left(runtime_dir):
    return [p for p in leftover_files(runtime_dir) if Path(p).name.startswith("s-")]


# --- item 4: calibration never swaps the live state ---------------------

@pytest.mark.parametrize("attempt", range(5))
def test_a_calibration_racing_a_threads_first_match_loses_no_call(run_py, attempt):
    source = """
    import sys, threading
    import speedbump._speedbump as hook

    def work():
        pass

    go = threading.Event()
    def worker():
        go.wait()
        for _ in range(10_000):
            work()

    sys.setswitchinterval(1e-6)
    t = threading.Thread(target=worker)
    t.start()
    go.set()
    hook._measure_fixed_cost_ns()
    t.join()
    """
    r = run_py(source, patterns="*:*\n", env={"SPEED_BUMP_DELAY_NS": "0"})
    assert r.returncode == 0, r.stderr
    assert function(r.report, "__main__:work")["calls"] == 10_000
    names = [f["name"] for f in r.report["functions"]]
    assert not [n for n in names if n.startswith("<unknown>")], names


# --- item 5: exec keeps the pid and start time ---------------------------

def test_fork_exec_children_are_all_counted(run_py):
    source = """
    import os, sys
    children = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            os.execv(sys.executable, [sys.executable, "child.py"])
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    """
    child = "def leaf(): pass\nfor _ in range(400): leaf()\n"
    r = run_py(source, patterns="__main__:leaf", files={"child.py": child})
    assert r.returncode == 0, r.stderr
    assert function(r.report, "__main__:leaf")["calls"] == 1_600


def test_subprocess_with_preexec_fn_is_counted(run_py):
    source = """
    import subprocess, sys
    for _ in range(4):
        subprocess.run([sys.executable, "child.py"], check=True, preexec_fn=lambda: None)
    """
    child = "def leaf(): pass\nfor _ in range(400): leaf()\n"
    r = run_py(source, patterns="__main__:leaf", files={"child.py": child})
    assert r.returncode == 0, r.stderr
    assert function(r.report, "__main__:leaf")["calls"] == 1_600


def test_a_root_that_execs_itself_still_summarises_and_cleans_up(run_py, runtime_dir):
    source = """
    import os, sys
    def f():
        pass
    for _ in range(10):
        f()
    if len(sys.argv) == 1:
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "main.py", "again"])
    """
    r = run_py(source, patterns="__main__:f")
    assert r.returncode == 0, r.stderr
    assert r.report is not None, r.stderr
    assert function(r.report, "__main__:f")["calls"] == 20
    assert len(r.speedbump_lines()) == 1, r.stderr
    assert sessions_left(runtime_dir) == []


# --- item 2: report temporaries -------------------------------------------

def test_a_link_at_the_old_report_temporary_name_is_not_followed(run_py, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    work = tmp_path / "work"
    work.mkdir()
    report = work / "r.json"
    (work / "r.json.tmp").symlink_to(victim)
    r = run_py("def f(): pass\nf()\n", patterns="__main__:f", report=False,
               env={"SPEED_BUMP_REPORT": str(report)})
    assert r.returncode == 0, r.stderr
    assert victim.read_text() == "precious"
    assert '"calls": 1' in report.read_text()


@pytest.mark.parametrize("report", ["/dev/full", "/dev/null", "/no/such/dir/r.json"])
def test_a_report_path_that_cannot_be_a_file_is_an_error_before_the_program(run_py, report):
    r = run_py("print('ran')\n", report=False, env={"SPEED_BUMP_REPORT": report})
    assert r.returncode == 2, r.stderr
    assert "ran" not in r.stdout
    assert "SPEED_BUMP_REPORT" in r.stderr


# --- item 3: the targets file ------------------------------------------------

def test_a_fifo_as_targets_file_is_refused_without_hanging(run_py, tmp_path):
    fifo = tmp_path / "all.txt"
    os.mkfifo(fifo)
    r = run_py("print('ran')\n", patterns=None, report=False, timeout=30,
               env={"SPEED_BUMP_TARGETS": str(fifo)})
    assert r.returncode == 2, r.stderr
    assert "not a regular file" in r.stderr


# --- item 1: a session base planted by another local user ------------------

ATTACKER = "speedbump-attacker"


def attacker_uid():
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root (and useradd) to make a second local user")
    try:
        return pwd.getpwnam(ATTACKER).pw_uid
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", ATTACKER], check=False, capture_output=True)
        return pwd.getpwnam(ATTACKER).pw_uid


def test_a_planted_base_with_a_link_swap_touches_no_file_of_the_victim(run_py, tmp_path):
    uid = attacker_uid()
    # A runtime directory that plays /dev/shm: ours, sticky, open to all (and
    # reachable by the other user, unlike pytest's private tmp_path).
    runtime = Path(tempfile.mkdtemp(prefix="speedbump-shm-"))
    try:
        os.chmod(runtime, 0o1777)
        check_planted_base(run_py, tmp_path, runtime, uid)
    finally:
        shutil.rmtree(runtime, ignore_errors=True)


def check_planted_base(run_py, tmp_path, runtime, uid):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    base = runtime / "speedbump"
    pid = os.fork()
    if pid == 0:  # the attacker
        try:
            os.setgid(uid)
            os.setuid(uid)
            os.umask(0)
            base.mkdir(mode=0o777)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                for entry in os.listdir(base):
                    if entry.startswith("s-") and not os.path.islink(base / entry):
                        os.rename(base / entry, base / ("moved-" + entry))
                        os.symlink(victim, base / entry)
                time.sleep(0.001)
        finally:
            os._exit(0)
    try:
        deadline = time.monotonic() + 10
        while not base.exists():
            assert time.monotonic() < deadline, "the other user could not plant the base"
            time.sleep(0.01)
        r = run_py("import time\ndef f(): pass\nfor _ in range(20):\n    f()\n    time.sleep(0.01)\n",
                   patterns="__main__:f", env={"XDG_RUNTIME_DIR": str(runtime)})
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    assert (victim / "precious.txt").read_text() == "keep me"
    assert r.returncode == 0, r.stderr
    assert function(r.report, "__main__:f")["calls"] == 20
    notes = [line for line in r.speedbump_lines() if "not using the session base" in line]
    assert len(notes) == 1, r.stderr
    assert [name for name in os.listdir(base) if name.startswith("s-")] == []
    # The private base chosen instead is gone with the run.
    assert sorted(p.name for p in runtime.iterdir()) == ["speedbump"]


# --- item 10: other tools' disabled events stay disabled -----------------

# A coverage-like tool on COVERAGE_ID: it counts each code object's first
# start, then DISABLEs it. A restart_events() by the hook would make it see
# `other` again.
OTHER_TOOL_WORKLOAD = r"""
import sys
mon = sys.monitoring
mon.use_tool_id(mon.COVERAGE_ID, "coverage-like")
seen = []
def on_start(code, offset):
    seen.append(code.co_name)
    return mon.DISABLE
mon.register_callback(mon.COVERAGE_ID, mon.events.PY_START, on_start)
mon.set_events(mon.COVERAGE_ID, mon.events.PY_START)

def other():
    pass

def warm():
    pass

warm()  # matched: the segment exists
other()
print("ready", flush=True)
for line in sys.stdin:
    other()
    print(seen.count("other"), flush=True)
"""


@pytest.mark.skipif(PYTHON_VERSION < (3, 12), reason="sys.monitoring is 3.12+")
def test_a_delay_change_does_not_restart_other_tools_events(tmp_path):
    from control_block import ControlBlock
    from test_live_control import applied_generation

    session = tmp_path / "session"
    block = ControlBlock(str(session), patterns="__main__:warm\n", delay_ns=0)
    (tmp_path / "w.py").write_text(OTHER_TOOL_WORKLOAD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["SPEED_BUMP_SESSION"] = str(session)
    proc = subprocess.Popen([PYTHON, str(tmp_path / "w.py")], cwd=tmp_path, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"

        def publish_and_count(**settings):
            generation = block.publish(**settings)
            deadline = time.monotonic() + 20
            while applied_generation(session) != generation:
                assert time.monotonic() < deadline, "settings never applied"
                time.sleep(0.02)
            proc.stdin.write("go\n")
            proc.stdin.flush()
            return int(proc.stdout.readline())

        # The first settings and a delay or frequency change: no restart.
        assert publish_and_count(patterns="__main__:warm\n", delay_ns=0) == 1
        assert publish_and_count(patterns="__main__:warm\n", delay_ns=5_000) == 1
        assert publish_and_count(patterns="__main__:warm\n", delay_ns=5_000, frequency=3) == 1
        # New patterns: what the hook disabled must be decided again.
        assert publish_and_count(patterns="__main__:other\n", delay_ns=0) == 2
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()
    assert proc.stderr.read() == ""


# --- item 8: a reused PyMethodDef address gets no stale C-call decision --

# pybind11 keeps a function's PyMethodDef in a capsule bound to the function
# and frees it with the function; the next function it makes may get the
# same address. Here an allocator of our own reuses freed defs first.
REUSED_DEF_WORKLOAD = r"""
import ctypes

class MethodDef(ctypes.Structure):
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]

# PyCFunctionObject: PyObject_HEAD, then m_ml.
LEN_DEF = MethodDef.from_address(ctypes.c_void_p.from_address(id(len) + 16).value)
api = ctypes.pythonapi
DESTRUCTOR = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
api.PyCapsule_New.restype = ctypes.py_object
api.PyCapsule_New.argtypes = [ctypes.c_void_p, ctypes.c_char_p, DESTRUCTOR]
api.PyCFunction_NewEx.restype = ctypes.py_object
api.PyCFunction_NewEx.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object]

defs, free = {}, []

def make(name, module):
    address = free.pop() if free else None
    d = defs[address][0] if address else MethodDef()
    address = ctypes.addressof(d)
    d.ml_name, d.ml_meth, d.ml_flags = name.encode(), LEN_DEF.ml_meth, LEN_DEF.ml_flags
    destructor = DESTRUCTOR(lambda _capsule: free.append(address))
    defs[address] = (d, destructor)
    return api.PyCFunction_NewEx(address, api.PyCapsule_New(address, None, destructor), module)

def call(f):
    return f([1, 2])

f = make("fast", "sbtest_a")
assert sum(call(f) for _ in range(10)) == 20
del f
g = make("slow", "sbtest_b")
assert sum(call(g) for _ in range(10)) == 20
del g  # while ctypes can still run the capsule's destructor
print(len(defs))
"""


@pytest.mark.skipif(PYTHON_VERSION < (3, 12), reason="C calls are seen through sys.monitoring (3.12+)")
def test_a_reused_method_def_address_gets_no_stale_c_call_decision(run_py):
    run = run_py(REUSED_DEF_WORKLOAD, patterns="sbtest_a:*\n",
                 env={"SPEED_BUMP_C_CALLS": "1", "SPEED_BUMP_DELAY_NS": "0"})
    assert run.returncode == 0, run.stderr
    counted = {f["name"]: f["calls"] for f in run.report["functions"]}
    assert counted == {"sbtest_a:PyCapsule.fast": 10}, counted


def test_the_method_def_reuse_workload_reuses_addresses_without_the_hook(tmp_path):
    # The workload above really reuses the address (else it tests nothing).
    (tmp_path / "w.py").write_text(REUSED_DEF_WORKLOAD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    out = subprocess.run([PYTHON, str(tmp_path / "w.py")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"


# --- item 9: subinterpreters ---------------------------------------------

SUBINTERPRETER_WORKLOAD = r"""
try:
    import _interpreters as interpreters
except ImportError:
    import _xxsubinterpreters as interpreters

def f():
    pass

for _ in range(300):
    f()
for _ in range(2):
    sub = interpreters.create()
    interpreters.run_string(sub, '''
import speedbump
def g():
    pass
for _ in range(50):
    g()
    speedbump.progress()
assert not speedbump.is_active()
with speedbump.latency("block"):
    g()
''')
    interpreters.destroy(sub)
for _ in range(200):
    f()
print("done")
"""


@pytest.mark.skipif(PYTHON_VERSION < (3, 12), reason="isolated subinterpreters are 3.12+")
def test_a_subinterpreter_prints_nothing_and_the_main_counts_stay_right(run_py):
    run = run_py(SUBINTERPRETER_WORKLOAD, patterns="__main__:*\n",
                 env={"SPEED_BUMP_QUIET": "1", "SPEED_BUMP_DELAY_NS": "0"})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    assert run.stderr == ""
    assert function(run.report, "__main__:f")["calls"] == 500
    assert "__main__:g" not in [f["name"] for f in run.report["functions"]]


# --- item 15: the program frees the hook's sys.monitoring tool id --------

FREED_TOOL_WORKLOAD = r"""
import sys

def warm():
    pass

warm()  # matched: the segment exists
assert sys.monitoring.get_tool(4) == "speedbump"
sys.monitoring.free_tool_id(4)
print("freed", flush=True)
sys.stdin.readline()
"""


@pytest.mark.skipif(PYTHON_VERSION < (3, 12), reason="sys.monitoring is 3.12+")
def test_a_freed_tool_id_is_said_once_and_later_settings_are_not_claimed(tmp_path):
    from control_block import ControlBlock
    from test_live_control import applied_generation

    session = tmp_path / "session"
    block = ControlBlock(str(session), patterns="__main__:warm\n", delay_ns=0)
    (tmp_path / "w.py").write_text(FREED_TOOL_WORKLOAD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["SPEED_BUMP_SESSION"] = str(session)
    proc = subprocess.Popen([PYTHON, str(tmp_path / "w.py")], cwd=tmp_path, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "freed"
        first = applied_generation(session)
        for delay in (1_000, 2_000):
            generation = block.publish(patterns="__main__:warm\n", delay_ns=delay)
            time.sleep(1.0)  # the poller applies within ~10 ms
            assert applied_generation(session) == first != generation
        out, err = proc.communicate("\n", timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    lines = [line for line in err.splitlines() if line.startswith("speedbump:")]
    assert len(lines) == 1, err
    assert "freed sys.monitoring tool id 4" in lines[0]


@pytest.mark.skipif(PYTHON_VERSION < (3, 12), reason="sys.monitoring is 3.12+")
def test_a_freed_tool_id_is_said_at_exit(run_py):
    run = run_py(FREED_TOOL_WORKLOAD, patterns="__main__:warm\n",
                 env={"SPEED_BUMP_QUIET": "1"})
    assert run.returncode == 0, run.stderr
    assert len(run.speedbump_lines()) == 1, run.stderr
    assert "freed sys.monitoring tool id 4" in run.stderr


# --- item 17: os.fork() of a single-threaded program under `run` ---------

FORKING_WORKLOAD = r"""
import os, sys, time, warnings

def work():
    pass

time.sleep(0.1)  # the control thread runs
for _ in range(5):
    pid = os.fork()
    if pid == 0:
        work()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert status == 0, status
    work()
print("forked", flush=True)
# The settings thread is back (started by a pending call once Python runs).
print("threads", len(os.listdir("/proc/self/task")), flush=True)
"""


@pytest.mark.skipif(PYTHON_VERSION < (3, 12), reason="the fork warning is 3.12+")
def test_a_single_threaded_program_forks_without_a_multithreaded_warning(tmp_path, runtime_dir):
    # "always", not "error": os.fork() swallows the error the warning
    # becomes under -W error, so only a printed warning can be seen.
    from test_run import SPEEDBUMP, base_env

    (tmp_path / "fork.py").write_text(FORKING_WORKLOAD)
    (tmp_path / "targets.txt").write_text("__main__:work\n")
    proc = subprocess.run(
        [SPEEDBUMP, "run", "--targets", str(tmp_path / "targets.txt"), "--",
         PYTHON, "-W", "always::DeprecationWarning", str(tmp_path / "fork.py")],
        cwd=tmp_path, env=base_env(runtime_dir), capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "forked" in proc.stdout
    assert "threads 2" in proc.stdout, proc.stdout
    assert "DeprecationWarning" not in proc.stderr, proc.stderr
    assert "multi-threaded" not in proc.stderr, proc.stderr


# --- item 13: nothing outlives a run ---------------------------------------

ORPHANING_WORKLOAD = """
import os, subprocess, sys, time
def step():
    pass
child = os.fork()
if child == 0:
    # A forked Python child and a non-Python grandchild in the group.
    sleeper = subprocess.Popen(["sleep", "300"])
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {sleeper.pid}")
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        step()
        time.sleep(0.01)
while True:
    step()
    time.sleep(0.01)
"""


def children_of(pid):
    """Pids whose parent is `pid`, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def gone(pid):
    """The process has exited (a zombie counts: it runs no code)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


def test_killing_the_launcher_and_its_watchdog_leaves_no_workload_process(tmp_path, runtime_dir):
    from test_run import SPEEDBUMP, base_env, wait_for

    (tmp_path / "w.py").write_text(ORPHANING_WORKLOAD)
    pids_file = tmp_path / "pids.txt"
    launcher = subprocess.Popen(
        [SPEEDBUMP, "run", "--pattern", "__main__:step", "--delay", "1us", "--",
         PYTHON, str(tmp_path / "w.py"), str(pids_file)],
        cwd=tmp_path, env=base_env(runtime_dir), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    child = sleeper = None
    try:
        wait_for(pids_file.exists, 60, "the workload's pid file")
        child, sleeper = (int(p) for p in pids_file.read_text().split())
        watchdogs = [p for p in children_of(launcher.pid)
                     if b"--internal-watchdog" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(watchdogs) == 1, "the launcher has a watchdog"
        os.kill(watchdogs[0], 9)
        launcher.kill()
        launcher.wait()
        wait_for(lambda: gone(child), 10, "the forked child to end")
        wait_for(lambda: gone(sleeper), 10, "the non-Python grandchild to end")
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        for pid in (child, sleeper):
            if pid is not None and not gone(pid):
                os.kill(pid, 9)


def test_a_session_left_by_a_killed_env_run_is_removed_by_the_next_run(run_py, tmp_path,
                                                                         runtime_dir):
    work = tmp_path / "killed"
    work.mkdir()
    (work / "targets.txt").write_text("__main__:f\n")
    (work / "main.py").write_text(
        "import sys, time\ndef f(): pass\nf()\nprint('ready', flush=True)\ntime.sleep(300)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env.update(XDG_RUNTIME_DIR=str(runtime_dir), SPEED_BUMP_TARGETS="targets.txt")
    proc = subprocess.Popen([PYTHON, "main.py"], cwd=work, env=env, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert len(sessions_left(runtime_dir)) == 1, "the run made its session directory"
        proc.terminate()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert len(sessions_left(runtime_dir)) == 1, "SIGTERM leaves the session (no handler)"
    r = run_py("def g(): pass\ng()\n", patterns="__main__:g\n")
    assert r.returncode == 0, r.stderr
    assert len(r.speedbump_lines()) == 1 and "1 function matched" in r.stderr, r.stderr
    assert sessions_left(runtime_dir) == [], "the next run removed the stale session"


# --- item 7: a fork() called from C ----------------------------------------

C_FORK_WORKLOAD = """
import ctypes, os, sys

def f():
    pass

def g():
    pass

for _ in range(5):
    f()
libc = ctypes.CDLL(None, use_errno=True)
libc.fork.restype = ctypes.c_int
pid = libc.fork()  # no Python after-fork handlers run in the child
if pid == 0:
    for _ in range(1000):
        f()
    for _ in range(7):
        g()  # first seen in the child: registered in the child's segment
    if len(sys.argv) > 1:
        sys.exit(0)  # through atexit: the child is not the root
    os._exit(0)
os.waitpid(pid, 0)
for _ in range(1000):
    f()
print(pid)
"""


@pytest.mark.parametrize("exit_through", ["os._exit", "sys.exit"])
def test_a_fork_called_from_c_gives_the_child_its_own_counts(run_py, runtime_dir, exit_through):
    args = ("atexit",) if exit_through == "sys.exit" else ()
    r = run_py(C_FORK_WORKLOAD, patterns="__main__:f\n__main__:g\n", args=args)
    assert r.returncode == 0, r.stderr
    child = int(r.stdout)
    by_pid = {p["pid"]: p["calls"] for p in r.report["processes"]}
    assert by_pid.get(child) == 1007, by_pid
    assert [calls for pid, calls in by_pid.items() if pid != child] == [1005], by_pid
    assert function(r.report, "__main__:f")["calls"] == 2005
    assert function(r.report, "__main__:g")["calls"] == 7
    assert len(r.speedbump_lines()) == 1, r.stderr  # one summary: the child is not a root
    assert sessions_left(runtime_dir) == []


# --- item 11: a full shared-memory filesystem ------------------------------

@pytest.fixture
def full_tmpfs(runtime_dir):
    """`runtime_dir` (the session base's parent: XDG_RUNTIME_DIR) as a tiny
    tmpfs whose every block is taken, like a full Docker /dev/shm."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs",
                              str(runtime_dir)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        (runtime_dir / "speedbump").mkdir(mode=0o700)
        with open(runtime_dir / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass  # full
        yield runtime_dir
    finally:
        subprocess.run(["umount", "-l", str(runtime_dir)], check=False)


def test_a_full_shared_memory_filesystem_does_not_kill_the_program(run_py, full_tmpfs):
    r = run_py("def f(): pass\nfor _ in range(500): f()\nprint('done')\n",
               patterns="__main__:f\n")
    assert r.returncode == 0, (r.returncode, r.stderr)  # -7: SIGBUS
    assert r.stdout == "done\n"
    assert "cannot create the statistics segment" in r.stderr, r.stderr
    assert "No space left on device" in r.stderr, r.stderr
    # Not "no function matched": the root says its own calls are missing.
    assert "matched nothing" not in r.stderr and "no function matched" not in r.stderr
    assert "leave out this process's own calls" in r.stderr, r.stderr
    assert any("leave out this process's own calls" in w for w in r.report["warnings"])
    assert sessions_left(full_tmpfs) == []
