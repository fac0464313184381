"""Cost of `speedbump tui` while it shows the live view (issue 5 bars:
under 3% of one core and under 50 MB RSS at its normal refresh rate).

    .venv-3.12/bin/python benches/tui_bench.py [--seconds 30] [--quick]

Starts `speedbump tui` in a pseudo-terminal (80x24, TERM=xterm-256color),
stays on the live view (step 0: throughput chart, patterns, functions,
output, redrawn at most 5 times a second while samples arrive at 10 Hz),
and after a warm-up measures, for the TUI process (all its threads,
including the engine's in-process sampling thread):

- CPU: utime + stime from /proc/PID/stat over the window, as % of one core;
- memory: VmRSS at the end and VmHWM (peak RSS) from /proc/PID/status;
- bandwidth: bytes the TUI wrote to the terminal per second (what an SSH
  session carries).

Two cases: `--demo-fake` (the experiment engine on the simulated workload,
in-process: no workload process) and,
when this Python has speedbump, the real engine on examples/pipeline.py
(python-bound regime; the workload's own CPU is not counted: it is another
process). Prints a table; the figures go to docs/tui.md.
"""

import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import sys
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SPEEDBUMP = (
    os.environ.get("SPEEDBUMP_BIN")
    or (str(Path(PYTHON).parent / "speedbump") if (Path(PYTHON).parent / "speedbump").exists() else None)
    or shutil.which("speedbump")
    or str(ROOT / "target" / "debug" / "speedbump")
)
QUICK = "--quick" in sys.argv
SECONDS = 10.0 if QUICK else 30.0
for i, arg in enumerate(sys.argv):
    if arg == "--seconds" and i + 1 < len(sys.argv):
        SECONDS = float(sys.argv[i + 1])
WARMUP = 5.0
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def status_kb(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def measure(args, env=None):
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.environ.pop("NO_COLOR", None)
        if env:
            os.environ.update(env)
        os.execv(SPEEDBUMP, [SPEEDBUMP, "tui", *args])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    written = 0

    def drain(seconds):
        nonlocal written
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    written += len(os.read(fd, 65536))
                except OSError:
                    return

    drain(WARMUP)
    c0, b0, t0 = cpu_s(pid), written, time.monotonic()
    drain(SECONDS)
    c1, b1, t1 = cpu_s(pid), written, time.monotonic()
    rss = status_kb(pid, "VmRSS") / 1024
    hwm = status_kb(pid, "VmHWM") / 1024
    os.write(fd, b"q")
    drain(3.0)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    os.close(fd)
    return {
        "cpu_pct": 100.0 * (c1 - c0) / (t1 - t0),
        "rss_mb": rss,
        "peak_rss_mb": hwm,
        "bytes_per_s": (b1 - b0) / (t1 - t0),
    }


def has_speedbump(python):
    import subprocess

    probe = subprocess.run([python, "-c", "import speedbump"], capture_output=True, check=False)
    return probe.returncode == 0


def main():
    print(f"speedbump: {SPEEDBUMP}; {SECONDS:.0f} s after {WARMUP:.0f} s warm-up; 80x24\n")
    cases = [("fake engine (--demo-fake)", ["--demo-fake"], None)]
    if has_speedbump(PYTHON):
        cases.append((
            "real engine, examples/pipeline.py python-bound",
            [str(ROOT / "examples" / "pipeline.py"), "--mode", "live", "--",
             "--regime", "python-bound", "--seconds", str(int(WARMUP + SECONDS + 60))],
            {"SPEEDBUMP_PYTHON": PYTHON},
        ))
    print("| case | CPU, % of one core | RSS, MB | peak RSS, MB | terminal output, bytes/s |")
    print("|---|---|---|---|---|")
    for name, args, env in cases:
        r = measure(args, env)
        print(f"| {name} | {r['cpu_pct']:.2f} | {r['rss_mb']:.1f} | {r['peak_rss_mb']:.1f} "
              f"| {r['bytes_per_s']:.0f} |")


if __name__ == "__main__":
    main()
