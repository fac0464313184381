"""`speedbump run`: the real binary against small real workloads.

The binary is the one installed next to $SPEEDBUMP_PYTHON (PATH is set to
its venv's bin by the test command); it injects the hook and reads the
session's segments. Each run gets a private XDG_RUNTIME_DIR, so tests can
check that nothing is left behind.
"""

import json
import os
import shutil
import signal
import stat
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import PYTHON, leftover_files

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SPEEDBUMP = shutil.which("speedbump") or str(Path(PYTHON).parent / "speedbump")


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str
    records: list = field(default_factory=list)

    @property
    def summary(self):
        summaries = [r for r in self.records if r["type"] == "summary"]
        assert len(summaries) == 1, f"no summary in --json output; stderr:\n{self.stderr}"
        return summaries[0]

    def of_type(self, kind):
        return [r for r in self.records if r["type"] == kind]

    def function(self, name):
        for f in self.summary["functions"]:
            if f["name"] == name:
                return f
        raise AssertionError(f"{name} not in {[f['name'] for f in self.summary['functions']]}")

    def throughput(self, source):
        found = [t for t in self.summary["throughput"] if t["source"] == source]
        assert found, f"no {source} throughput in {self.summary['throughput']}"
        return found[0]


def base_env(runtime_dir, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


@pytest.fixture
def work(tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
def sb_run(work, runtime_dir):
    """sb_run(options, command, ...) -> Result: runs `speedbump run OPTIONS
    --json run.jsonl -- COMMAND` in the work directory."""

    def run(options, command, timeout=120, env=None, json_out=True):
        out = work / "run.jsonl"
        args = [SPEEDBUMP, "run", *options]
        if json_out:
            args += ["--json", str(out)]
        proc = subprocess.run(
            [*args, "--", *command], cwd=work, env=base_env(runtime_dir, env),
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False,
        )
        records = []
        if out.exists():
            records = [json.loads(line) for line in out.read_text().splitlines() if line]
            out.unlink()
        return Result(proc.returncode, proc.stdout, proc.stderr, records)

    return run


def running(pid):
    """A process that exists and is not a zombie (orphans wait for init)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return text.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# ---- counts ------------------------------------------------------------


def test_spawn_pool_counts_are_exact(sb_run, runtime_dir):
    r = sb_run(["--pattern", "__main__:step", "--delay", "1us"],
               [PYTHON, str(EXAMPLES / "run_pool.py"), "1000", "2000", "3000", "4000"])
    assert r.returncode == 0, r.stderr
    assert "total 10000" in r.stdout
    step = r.function("__main__:step")
    assert step["calls"] == 10000
    assert step["delayed_calls"] == 10000
    assert step["processes"] == 4
    assert step["injected_ns"] >= 10000 * 1000 * 0.9
    workers = [p for p in r.summary["processes"] if p["calls"]]
    assert len(workers) == 4
    assert sorted(p["calls"] for p in workers) == [1000, 2000, 3000, 4000] or \
        sum(p["calls"] for p in workers) == 10000
    pattern = [p for p in r.summary["patterns"] if p["pattern"] == "__main__:step"]
    assert pattern and pattern[0]["calls"] == 10000
    assert all(p["status"] in ("exited", "gone") for p in r.summary["processes"])
    assert leftover_files(runtime_dir) in ([], ["speedbump"])


def test_samples_are_json_lines_with_processes_and_rates(sb_run):
    r = sb_run(["--pattern", "__main__:step", "--delay", "0", "--interval", "50ms"],
               [PYTHON, str(EXAMPLES / "run_pool.py"), "2000000", "2000000", "2000000", "2000000"])
    assert r.returncode == 0, r.stderr
    samples = r.of_type("sample")
    assert len(samples) >= 3, r.stderr
    for s in samples:
        assert set(s) >= {"elapsed_s", "rate_window_s", "generations", "complete", "processes",
                          "throughput", "patterns", "functions", "functions_total"}
        assert s["processes"]["total"] == s["processes"]["live"] + s["processes"]["exited"]
    assert max(s["processes"]["total"] for s in samples) == 4
    rated = [f for s in samples for f in s["functions"]
             if f["name"] == "__main__:step" and f["rates"] and f["rates"]["calls_per_s"] > 0]
    assert rated, "no sample had a call rate for step()"
    assert r.function("__main__:step")["calls"] == 8_000_000
    assert r.summary["changes"][0]["generation"] == 1


def test_text_summary_and_output_lines(sb_run):
    source = "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n" \
             "def f(): pass\nfor _ in range(7): f()\n"
    r = sb_run(["--pattern", "__main__:f"], [PYTHON, "-c", source], json_out=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "to stdout\n"
    assert "to stderr\n" in r.stderr
    assert "exited with status 0" in r.stderr
    assert "__main__:f" in r.stderr and "total: 7 calls, 7 delayed" in r.stderr


# ---- progress ------------------------------------------------------------


def test_progress_from_the_api(sb_run):
    r = sb_run(["--pattern", "__main__:*", "--delay", "0"],
               [PYTHON, str(EXAMPLES / "run_progress.py"), "60", "1.5"])
    assert r.returncode == 0, r.stderr
    api = r.throughput("api")
    assert api["name"] == "progress"
    assert api["units"] == 60
    assert r.summary["throughput"][0]["source"] == "api", "the api counter is the throughput"
    assert api["per_second"] == pytest.approx(60 / r.summary["wall_s"], rel=1e-6)
    assert api["seconds_per_unit"] == pytest.approx(1 / api["per_second"], rel=1e-6)
    live = [t for s in r.of_type("sample") for t in s["throughput"]
            if t["source"] == "api" and t["per_second"]]
    assert live, "no live api throughput"


def test_progress_from_output_lines(sb_run):
    r = sb_run(["--delay", "0", "--progress-regex", r"Throughput: ([0-9.]+) items/s"],
               [PYTHON, str(EXAMPLES / "run_progress.py"), "60", "1.2"])
    assert r.returncode == 0, r.stderr
    regex = r.throughput("regex")
    assert r.summary["throughput"][0]["source"] == "regex"
    # Lines print 100, 200, 300 in turn, six lines: mean 200.
    assert regex["per_second"] == pytest.approx(200.0)
    assert regex["seconds_per_unit"] == pytest.approx(1 / 200.0)
    # The lines are still shown, on their own streams.
    assert r.stdout.count("Throughput: ") == 6
    assert "done 60" in r.stderr


def test_progress_regex_kinds(sb_run):
    r = sb_run(["--delay", "0", "--progress-regex", r"^done (\d+)$", "--progress-regex-kind",
                "count"], [PYTHON, str(EXAMPLES / "run_progress.py"), "40", "1.0"])
    assert r.returncode == 0, r.stderr
    regex = r.throughput("regex")
    assert regex["units"] == 40
    assert 0 < regex["per_second"] < 200


def test_runs_per_second_for_fixed_work(sb_run):
    r = sb_run(["--delay", "0"], [PYTHON, "-c", "import time; time.sleep(0.5)"])
    assert r.returncode == 0, r.stderr
    assert [t["source"] for t in r.summary["throughput"]] == ["runs"]
    runs = r.throughput("runs")
    assert runs["per_second"] == pytest.approx(1 / r.summary["wall_s"])
    assert 0.5 <= r.summary["wall_s"] < 10


# ---- robustness ------------------------------------------------------------


def test_corrupt_segment_is_skipped_with_one_warning(sb_run):
    source = textwrap.dedent("""
        import os, time
        path = os.path.join(os.environ["SPEED_BUMP_SESSION"], "p-1-1.seg")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"this is not a segment" * 400)
        os.close(fd)
        def f(): pass
        for _ in range(5):
            f()
            time.sleep(0.3)
    """)
    r = sb_run(["--pattern", "__main__:f", "--delay", "0"], [PYTHON, "-c", source])
    assert r.returncode == 0, r.stderr
    warnings = [w for w in r.summary["warnings"] if "p-1-1.seg" in w]
    assert len(warnings) == 1, r.summary["warnings"]
    assert "magic" in warnings[0]
    assert r.stderr.count("p-1-1.seg") == 1, r.stderr
    assert r.function("__main__:f")["calls"] == 5


def test_crashing_workload_status_is_propagated(sb_run):
    r = sb_run(["--pattern", "__main__:f"], [PYTHON, "-c", "import sys; sys.exit(3)"])
    assert r.returncode == 3
    assert r.summary["exit"]["code"] == 3
    r = sb_run(["--pattern", "__main__:f"],
               [PYTHON, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    assert r.returncode == 128 + signal.SIGSEGV
    assert r.summary["exit"]["signal_name"] == "SIGSEGV"
    assert "killed by SIGSEGV" in r.stderr


def test_bad_options_fail_before_anything_runs(sb_run, work, runtime_dir):
    (work / "t.txt").write_text("numpy.*:*\npkg.[a-z:*\n")
    r = sb_run(["--targets", "t.txt"], [PYTHON, "-c", "print('ran')"])
    assert r.returncode == 2
    assert "t.txt:2:5: unclosed '['" in r.stderr
    assert "^" in r.stderr and "ran" not in r.stdout
    (work / "s.txt").write_text("at 1s delay 10us\nat 2s delya 5us\n")
    r = sb_run(["--pattern", "a:*", "--schedule", "s.txt"], [PYTHON, "-c", "print('ran')"])
    assert r.returncode == 2
    assert "s.txt:2:7: unknown command 'delya'" in r.stderr
    r = sb_run([], [PYTHON, "-c", "print('ran')"])
    assert r.returncode == 2 and "nothing to slow down" in r.stderr
    assert "ran" not in r.stdout
    assert leftover_files(runtime_dir) in ([], ["speedbump"])


def test_hook_is_injected_into_a_python_without_speedbump(sb_run, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(bare)], check=True)
    bare_python = bare / "bin" / "python"
    probe = subprocess.run([bare_python, "-c", "import speedbump"], capture_output=True,
                           check=False)
    assert probe.returncode != 0, "the bare venv must not have speedbump"
    # The user's own sitecustomize still runs (chained).
    site = tmp_path / "usersite"
    site.mkdir()
    (site / "sitecustomize.py").write_text("print('user sitecustomize ran')\n")
    r = sb_run(["--pattern", "__main__:f", "--delay", "0"],
               [str(bare_python), "-c", "def f(): pass\nfor _ in range(11): f()\n"],
               env={"PYTHONPATH": str(site)})
    assert r.returncode == 0, r.stderr
    assert r.function("__main__:f")["calls"] == 11
    assert "user sitecustomize ran" in r.stdout


# ---- stopping and cleaning up ------------------------------------------------


class Held:
    """A launcher running the holding pool, with its pids and session."""

    def __init__(self, work, runtime_dir, extra_options=()):
        self.pid_file = work / "pids.txt"
        self.out = open(work / "launcher.log", "w+")  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [SPEEDBUMP, "run", "--pattern", "__main__:step", "--delay", "1us", *extra_options,
             "--", PYTHON, str(EXAMPLES / "run_pool.py"), "--hold", str(self.pid_file)],
            cwd=work, env=base_env(runtime_dir), stdout=self.out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        wait_for(self.pid_file.exists, 60, "the workload's pid file")
        lines = self.pid_file.read_text().split()
        self.pids = [int(p) for p in lines[:-1]]
        self.session = Path(lines[-1])
        assert len(self.pids) == 5 and self.session.is_dir()

    def log(self):
        self.out.seek(0)
        return self.out.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.pids:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        self.out.close()


@pytest.fixture
def held(work, runtime_dir):
    started = []

    def start(*options):
        h = Held(work, runtime_dir, options)
        started.append(h)
        return h

    yield start
    for h in started:
        h.close()


def test_session_files_are_private_while_running(held):
    h = held()
    session = h.session
    assert stat.S_IMODE(session.stat().st_mode) == 0o700
    assert stat.S_IMODE(session.parent.stat().st_mode) == 0o700
    seen = 0
    for path in session.rglob("*"):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue  # the injected package link; its target is the installed package
        if stat.S_ISDIR(mode):
            assert stat.S_IMODE(mode) == 0o700, path
        else:
            assert stat.S_IMODE(mode) == 0o600, path
            seen += 1
    assert (session / "control").exists()
    assert len(list(session.glob("p-*.seg"))) == 4, "one segment per worker"
    assert seen >= 6


def test_ctrl_c_stops_everything_and_cleans_up(held, runtime_dir):
    h = held()
    h.proc.send_signal(signal.SIGINT)
    rc = h.proc.wait(timeout=30)
    assert rc == 130, h.log()
    for pid in h.pids:
        assert not running(pid), f"workload process {pid} is still running"
    assert not h.session.exists()
    assert leftover_files(runtime_dir) in ([], ["speedbump"])
    log = h.log()
    assert "(interrupted)" in log and "4 hooked processes" in log
    assert "total: 10.0k calls, 10.0k delayed" in log


def test_sigterm_is_like_ctrl_c(held):
    h = held()
    h.proc.send_signal(signal.SIGTERM)
    assert h.proc.wait(timeout=30) == 130
    assert not any(running(pid) for pid in h.pids)
    assert not h.session.exists()


def test_sigkill_of_the_launcher_leaves_nothing(held, runtime_dir):
    h = held()
    h.proc.kill()
    h.proc.wait()
    wait_for(lambda: not any(running(pid) for pid in h.pids), 5, "the workload to be killed")
    wait_for(lambda: not h.session.exists(), 5, "the session directory to be removed")
    wait_for(lambda: leftover_files(runtime_dir) in ([], ["speedbump"]), 5, "no files left")


# ---- terminal ------------------------------------------------------------


def test_live_view_on_a_terminal_keeps_output_lines_above_the_status(work, runtime_dir):
    import pty
    import select
    source = textwrap.dedent("""
        import sys, time
        def f(): pass
        for i in range(40):
            f()
            print(f"workload line {i}", flush=True)
            if i % 10 == 0:
                print(f"workload err {i}", file=sys.stderr, flush=True)
            time.sleep(0.03)
    """)
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [SPEEDBUMP, "run", "--pattern", "__main__:f", "--delay", "0", "--", PYTHON, "-c", source],
        cwd=work, env=base_env(runtime_dir), stdin=subprocess.DEVNULL, stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    data = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        data += chunk
    assert proc.wait(timeout=30) == 0
    os.close(controller)
    text = data.decode()
    for i in range(40):
        assert text.count(f"workload line {i}\r\n") == 1, i
    assert text.count("workload err 10\r\n") == 1
    assert "── speedbump" in text, "the status block was drawn"
    # Each redraw first erases the block: cursor up, clear to the end.
    assert "\x1b[J" in text
    # The summary comes after the last erase, with no status block after it.
    tail = text.rsplit("\x1b[J", 1)[1]
    # (At 80 columns a long command goes on a line of its own, after how
    # the workload ended.)
    assert tail.startswith("speedbump: "), tail[:200]
    assert all(len(line) <= 80 for line in tail.split("\r\n")), tail
    assert "── speedbump" not in tail


def test_without_a_progress_source_run_suggests_one_from_its_output(sb_run, work):
    # A service that prints its own rate, and handles one event per unit.
    (work / "service.py").write_text(textwrap.dedent("""
        import time

        def handle(i):
            time.sleep(0.001)
            return i

        t0 = time.monotonic()
        last = t0
        n = 0
        while time.monotonic() - t0 < 3.0:
            handle(n)
            n += 1
            now = time.monotonic()
            if now - last >= 0.25:
                print(f"Throughput: {n / (now - t0):.1f} events/s", flush=True)
                last = now
    """))
    r = sb_run(["--pattern", "*:*", "--delay", "0"], [PYTHON, "service.py"])
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if "no progress source given" in line]
    assert any("--progress-regex 'Throughput: ([0-9.]+) events/s'" in line for line in said), \
        r.stderr
    assert any(line.endswith("--progress __main__:handle") for line in said), r.stderr
    # With a progress source, nothing is suggested.
    r = sb_run(["--pattern", "*:*", "--delay", "0", "--progress", "__main__:handle"],
               [PYTHON, "service.py"])
    assert r.returncode == 0, r.stderr
    assert "no progress source given" not in r.stderr
