"""The hook follows a launcher's control block live (issue 3, hook side)."""

import json
import os
import subprocess
import sys
import time

from conftest import PYTHON
from control_block import ENABLED, ControlBlock

WORKLOAD = r"""
import json, sys, time
import speedbump

def f():
    pass

def step():
    f()

calls = []
end = time.monotonic() + float(sys.argv[1])
print("ready", flush=True)
while time.monotonic() < end:
    t0 = time.monotonic_ns()
    step()
    calls.append((t0, time.monotonic_ns() - t0 > 200_000))
    time.sleep(0.0002)
# Delayed calls come in runs; a preemption on a busy machine makes a single
# slow call anywhere: keep the calls that belong to runs of 3 or more.
flags = [d for _, d in calls]
slow = sorted({calls[j][0] for i in range(len(flags) - 2) if all(flags[i:i + 3])
               for j in range(i, i + 3)})
print(json.dumps(slow), flush=True)
"""


def launch(tmp_path, control_settings, seconds):
    session = tmp_path / "session"
    block = ControlBlock(str(session), **control_settings)
    (tmp_path / "w.py").write_text(WORKLOAD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["SPEED_BUMP_SESSION"] = str(session)
    proc = subprocess.Popen([PYTHON, str(tmp_path / "w.py"), str(seconds)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return block, proc, session


def test_settings_change_takes_effect_within_50ms(tmp_path):
    block, proc, _ = launch(tmp_path, dict(patterns="__main__:nothing\n", delay_ns=300_000), 2.5)
    time.sleep(0.5)
    on_at = time.monotonic_ns()
    block.publish(patterns="__main__:f\n", delay_ns=300_000)
    time.sleep(0.8)
    off_at = time.monotonic_ns()
    block.publish(patterns="__main__:f\n", delay_ns=300_000, flags=0)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    slow = json.loads(out.strip().splitlines()[-1])
    assert slow, "f was never delayed"
    assert all(on_at <= t for t in slow), "delayed before the change"
    # Generous bounds for a busy machine; benches/run_bench.py measures the bar.
    assert slow[0] - on_at < 200e6, (slow[0] - on_at) / 1e6
    assert slow[-1] - off_at < 200e6, (slow[-1] - off_at) / 1e6
    assert len(slow) > 100


def test_segment_records_the_generation_applied(tmp_path):
    block, proc, session = launch(tmp_path, dict(patterns="__main__:f\n", delay_ns=0), 1.5)
    time.sleep(0.3)
    generation = block.publish(patterns="__main__:step\n", delay_ns=0)
    time.sleep(0.3)
    segments = [p for p in os.listdir(session) if p.endswith(".seg")]
    assert len(segments) == 1
    data = open(session / segments[0], "rb").read(4096)
    assert data[:8] == b"SPDBUMP\0"
    (settings_generation,) = __import__("struct").unpack_from("=Q", data, 120)
    assert settings_generation == generation
    proc.communicate(timeout=30)


def inspect(session):
    speedbump = os.path.join(os.path.dirname(PYTHON), "speedbump")
    out = subprocess.run([speedbump, "inspect", str(session), "--json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def test_progress_points_count_completed_calls(tmp_path):
    block, proc, session = launch(
        tmp_path, dict(patterns="__main__:nothing\n", progress_points="__main__:step\n"), 1.0)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    totals = inspect(session)
    units = {p["name"]: p["units"] for p in totals["progress"]}
    # The workload calls step() in a loop for a second: hundreds of times.
    assert units["__main__:step"] > 100
    assert totals["functions"] == [] or all(f["calls"] == 0 for f in totals["functions"]
                                            if f["name"] != "<other>")


RETURNS = r"""
import asyncio

def gen():
    for i in range(5):
        yield i

async def handle():
    for _ in range(3):
        await asyncio.sleep(0)

def plain():
    return 1

def boom():
    raise ValueError

print("ready", flush=True)
for _ in range(7):
    list(gen())
async def main():
    for _ in range(4):
        await handle()
asyncio.run(main())
for _ in range(9):
    plain()
for _ in range(2):
    try:
        boom()
    except ValueError:
        pass
"""


def test_progress_points_count_returns_not_yields_or_raises(tmp_path):
    # A completed call is a return (PY_RETURN on 3.12+): a generator or a
    # coroutine counts once per run however often it yields or awaits, and a
    # call that raises does not count.
    session = tmp_path / "session"
    ControlBlock(str(session), patterns="__main__:nothing\n",
                 progress_points="__main__:gen\n__main__:handle\n__main__:plain\n__main__:boom\n")
    (tmp_path / "w.py").write_text(RETURNS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["SPEED_BUMP_SESSION"] = str(session)
    proc = subprocess.run([PYTHON, str(tmp_path / "w.py")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    units = {p["name"]: p["units"] for p in inspect(session)["progress"]}
    assert units["__main__:gen"] == 7
    assert units["__main__:handle"] == 4
    assert units["__main__:plain"] == 9
    assert units.get("__main__:boom", 0) == 0


def test_progress_points_follow_live_changes(tmp_path):
    block, proc, session = launch(tmp_path, dict(patterns="__main__:nothing\n"), 1.2)
    time.sleep(0.3)
    block.publish(patterns="__main__:nothing\n", progress_points="__main__:f\n")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    units = {p["name"]: p["units"] for p in inspect(session)["progress"]}
    assert units["__main__:f"] > 50


def test_under_a_launcher_the_variables_do_not_rule_and_the_dir_is_not_rebuilt(tmp_path):
    session = tmp_path / "session"
    ControlBlock(str(session), patterns="__main__:late\n", delay_ns=0)
    (tmp_path / "w.py").write_text(
        "import sys, time\n"
        "def late(): pass\n"
        "print('ready', flush=True)\n"
        "sys.stdin.readline()\n"
        "late()\n"
        "print('done', flush=True)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    # A stale variable must not matter when a control block rules.
    env.update(SPEED_BUMP_SESSION=str(session), SPEED_BUMP_TARGETS="/nonexistent/t.txt")
    proc = subprocess.Popen([PYTHON, str(tmp_path / "w.py")], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().strip() == "ready"
    # The launcher cleans up (here: by hand) while the process lives on.
    for p in session.iterdir():
        p.unlink()
    session.rmdir()
    out, err = proc.communicate("go\n", timeout=30)
    assert proc.returncode == 0, err
    assert out.strip() == "done"
    assert not session.exists()


DELAYS_WORKLOAD = r"""
import sys, time
import speedbump

def a():
    pass

def b():
    pass

def warm():
    pass

def timed(f):
    t = time.perf_counter_ns()
    f()
    return time.perf_counter_ns() - t

warm()  # matched: the segment is created and records the filler patterns
print("ready", flush=True)
sys.stdin.readline()  # the settings under test are applied
slow = {"a": 0, "b": 0}
for _ in range(400):
    for name, f in (("a", a), ("b", b)):
        slow[name] += timed(f) > 50_000
print(slow["a"], slow["b"], flush=True)
"""


def test_per_pattern_delays_stay_apart_when_the_pattern_table_is_full(tmp_path):
    # A ranking changes settings every window and each generation adds its
    # patterns to the segment's table (1024 slots); once full, new patterns
    # share the overflow slot. Each function must still get its own
    # pattern's delay.
    session = tmp_path / "session"
    filler = "__main__:warm\n" + "".join(f"__main__:filler{i}\n" for i in range(1100))
    block = ControlBlock(str(session), patterns=filler, delay_ns=0)
    (tmp_path / "w.py").write_text(DELAYS_WORKLOAD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["SPEED_BUMP_SESSION"] = str(session)
    proc = subprocess.Popen([PYTHON, str(tmp_path / "w.py")], cwd=tmp_path, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    generation = block.publish(patterns="__main__:a\n__main__:b\n", delay_ns=0,
                               pattern_delays=(0, 200_000))
    deadline = time.monotonic() + 20
    while applied_generation(session) != generation:
        assert time.monotonic() < deadline, "settings never applied"
        time.sleep(0.02)
    out, err = proc.communicate("go\n", timeout=60)
    assert proc.returncode == 0, err
    slow_a, slow_b = map(int, out.split())
    # b (200 µs per call) is slowed on every call; a (0) on none, but for a
    # preemption now and then on a busy machine.
    assert slow_b >= 380, (slow_a, slow_b)
    assert slow_a <= 40, (slow_a, slow_b)


def applied_generation(session):
    """The settings generation the (single) segment in `session` has applied."""
    segments = [p for p in os.listdir(session) if p.endswith(".seg")]
    if not segments:
        return None
    data = open(session / segments[0], "rb").read(128)
    return __import__("struct").unpack_from("=Q", data, 120)[0]
