"""Session server bars (issue 14): attach latency (from `speedbump tui
--attach` to the server's live throughput on screen) at most 1 s, and the
server's CPU while idle (detached, no experiment running) under 1% of one
core.

    .venv-3.12/bin/python benches/session_bench.py [--seconds 20] [--attaches 5] [--quick]

For each case it starts `speedbump tui` in a pseudo-terminal (80x24) with a
private XDG_RUNTIME_DIR (so only this bench's sessions are listed), waits
for live throughput on screen and for the start-up census, presses `d`
(detach), then:

- idle CPU: utime + stime of the server process (`speedbump __serve`, all
  its threads: the tokio loop, the engine, its sampling thread) from
  /proc/PID/stat over --seconds, as % of one core, with no client attached;
- attach latency: --attaches times, `speedbump tui --attach` in a fresh pty,
  timed from exec to the throughput text appearing in its output (the
  replay of the server's state drawn), then `d`; the median and the worst.

Then `speedbump stop` and a check that no process of the session is left.
Cases: the fake engine (`--demo-fake`, no Python workload; its simulated
workload runs inside the server, so its CPU is not the server's idle cost)
and, when this Python has speedbump, the real engine on
examples/asyncio_server.py (its own CPU is not counted: it is another
process). The CPU bar applies to the real engine.
"""

import fcntl
import json
import os
import pty
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

# The binary and the CPU reading are tui_bench's (same directory).
from tui_bench import SPEEDBUMP, cpu_s

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
QUICK = "--quick" in sys.argv
SECONDS = 8.0 if QUICK else 20.0
ATTACHES = 3 if QUICK else 5
for i, arg in enumerate(sys.argv):
    if arg == "--seconds" and i + 1 < len(sys.argv):
        SECONDS = float(sys.argv[i + 1])
    if arg == "--attaches" and i + 1 < len(sys.argv):
        ATTACHES = int(sys.argv[i + 1])
PATIENCE = 60.0


class Term:
    """`speedbump ARGS` in a pty; collects what it writes."""

    def __init__(self, args, env):
        self.started = time.monotonic()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["TERM"] = "xterm-256color"
            os.environ.pop("NO_COLOR", None)
            os.environ.update(env)
            os.execv(SPEEDBUMP, [SPEEDBUMP, *args])
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.out = b""

    def wait_for(self, marker, seconds=PATIENCE):
        """Seconds from start until `marker` was written (None: never)."""
        end = time.monotonic() + seconds
        while marker.encode() not in self.out:
            left = end - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.05))
            if ready:
                try:
                    self.out += os.read(self.fd, 65536)
                except OSError:
                    return None
        return time.monotonic() - self.started

    def key(self, keys):
        os.write(self.fd, keys.encode())

    def wait_exit(self, seconds=20.0):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return status
            try:
                if select.select([self.fd], [], [], 0.05)[0]:
                    self.out += os.read(self.fd, 65536)
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"speedbump did not exit: {self.out[-400:]!r}")


def speedbump(env, *args):
    return subprocess.run([SPEEDBUMP, *args], env={**os.environ, **env},
                          capture_output=True, text=True, check=True).stdout


def case(name, args, marker, env):
    # `stop` with nobody attached writes the report: not into the checkout.
    export = os.path.join(env["XDG_RUNTIME_DIR"], "export")
    first = Term(["tui", "--export-dir", export, *args], env)
    if first.wait_for(marker) is None:
        raise SystemExit(f"{name}: no throughput on screen: {first.out[-400:]!r}")
    first.key("3")
    first.wait_for("functions seen")
    first.key("d")
    first.wait_exit()
    # Idle: the start-up census over, nobody attached.
    end = time.monotonic() + PATIENCE
    while True:
        sessions = [json.loads(line) for line in speedbump(env, "sessions", "--json").splitlines()]
        assert len(sessions) == 1, sessions
        state = sessions[0]["status"]["state"]
        if state == "lingering" or time.monotonic() > end:
            break
        time.sleep(0.5)
    server = sessions[0]["pid"]
    time.sleep(1.0)
    before, t0 = cpu_s(server), time.monotonic()
    time.sleep(SECONDS)
    idle_cpu = 100.0 * (cpu_s(server) - before) / (time.monotonic() - t0)
    latencies = []
    for _ in range(ATTACHES):
        term = Term(["tui", "--attach"], env)
        seconds = term.wait_for(marker)
        if seconds is None:
            raise SystemExit(f"{name}: attach showed no throughput: {term.out[-400:]!r}")
        latencies.append(seconds)
        term.key("d")
        term.wait_exit()
    speedbump(env, "stop")
    time.sleep(0.5)
    left = speedbump(env, "sessions", "--json").strip()
    alive = Path(f"/proc/{server}").exists() and "zombie" not in Path(f"/proc/{server}/status").read_text()
    return {
        "case": name,
        "state while measured": state,
        "idle server CPU %": round(idle_cpu, 2),
        "attach median s": round(statistics.median(latencies), 3),
        "attach worst s": round(max(latencies), 3),
        "left after stop": bool(left) or alive,
    }


def has_speedbump(python):
    return subprocess.run([python, "-c", "import speedbump"], capture_output=True).returncode == 0


def main():
    runtime = tempfile.mkdtemp(prefix="speedbump-session-bench-")
    os.chmod(runtime, 0o700)
    env = {"XDG_RUNTIME_DIR": runtime, "SPEEDBUMP_PYTHON": PYTHON}
    rows = [case("fake engine", ["--demo-fake"], "steps/s", env)]
    if has_speedbump(PYTHON):
        rows.append(case(
            "real engine, asyncio_server.py",
            ["--progress", "__main__:process_request", "--",
             PYTHON, str(ROOT / "examples" / "asyncio_server.py"), "--seconds", "100000"],
            "process_request/s", env))
    else:
        print(f"(no speedbump in {PYTHON}: real-engine case skipped)")
    shutil.rmtree(runtime, ignore_errors=True)
    print(f"binary: {SPEEDBUMP}; idle window {SECONDS:.0f} s; {ATTACHES} attaches")
    keys = list(rows[0])
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(str(row[k]) for k in keys))
    # The CPU bar is the real engine's: the fake engine's simulated workload
    # runs inside the server (a 50 Hz simulation loop), a real one does not.
    bad = [r for r in rows
           if (r["idle server CPU %"] >= 1.0 and r["case"] != "fake engine")
           or r["attach worst s"] > 1.0 or r["left after stop"]]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
