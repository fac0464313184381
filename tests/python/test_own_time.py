"""Own time per unit (docs/ranking.md): the hook times matched code while the
control block asks for it, on a real process whose truth the code sets.

- `outer` spins 100 µs itself and calls `inner`, which spins 200 µs: inner's
  own time is 200 µs per unit, outer's 300 µs (inclusive).
- `rec` recurses 4 deep, each level spinning 50 µs: 200 µs per unit, once
  (nested entries into the same candidate are not counted again).
- `gen` spins 100 µs per item and yields 2 items while its consumer sleeps
  2 ms after each: 200 µs per unit; the suspended time (4 ms) must not count.
- `raises` spins 80 µs and raises (caught by the caller): 80 µs per unit.
- `idle` (unmatched) spins 300 µs: nothing is counted for it.
"""

import json
import os
import subprocess
import time

import pytest

from conftest import PYTHON
from control_block import ENABLED, OWN_TIME, ControlBlock

WORKLOAD = r"""
import json, sys, time
import speedbump

pc = time.perf_counter_ns
# The code's own measure of the same times (wall time, at the call sites),
# so that a busy machine's preemptions count on both sides.
seen = {"inner": 0, "outer": 0, "rec": 0, "gen": 0, "raises": 0}

def spin(us):
    end = pc() + us * 1000
    while pc() < end:
        pass

def inner():
    spin(200)

def outer():
    spin(100)
    t = pc()
    inner()
    seen["inner"] += pc() - t

def rec(n):
    spin(50)
    if n > 1:
        rec(n - 1)

def gen():
    for _ in range(2):
        spin(100)
        yield 1

def raises():
    spin(80)
    raise ValueError("expected")

def idle():
    spin(300)

def step():
    t = pc()
    outer()
    seen["outer"] += pc() - t
    t = pc()
    rec(4)
    seen["rec"] += pc() - t
    items = gen()
    while True:
        t = pc()
        try:
            next(items)
        except StopIteration:
            seen["gen"] += pc() - t
            break
        seen["gen"] += pc() - t
        time.sleep(0.002)
    t = pc()
    try:
        raises()
    except ValueError:
        pass
    seen["raises"] += pc() - t
    idle()

print("ready", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    step()
print(json.dumps(seen), flush=True)
"""

PATTERNS = "__main__:inner\n__main__:outer\n__main__:rec\n__main__:gen\n__main__:raises\n"


def inspect(session):
    speedbump = os.path.join(os.path.dirname(PYTHON), "speedbump")
    out = subprocess.run([speedbump, "inspect", str(session), "--json"], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def run(tmp_path, flags, seconds=3.0):
    session = tmp_path / "session"
    ControlBlock(str(session), patterns=PATTERNS, flags=flags,
                 progress_points="__main__:step\n")
    (tmp_path / "w.py").write_text(WORKLOAD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["SPEED_BUMP_SESSION"] = str(session)
    proc = subprocess.Popen([PYTHON, str(tmp_path / "w.py"), str(seconds)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert err == "", err  # no noise when all is well
    seen = json.loads(out.strip().splitlines()[-1])
    totals = inspect(session)
    units = {p["name"]: p["units"] for p in totals["progress"]}["__main__:step"]
    patterns = {p["name"]: p for p in totals["patterns"]}
    return units, patterns, seen


def test_own_time_per_unit_matches_what_the_code_spends(tmp_path):
    units, patterns, seen = run(tmp_path, ENABLED | OWN_TIME)
    assert units > 50, units
    # The hook counts every call; the code's own measure only completed
    # steps (the last one may be cut short): per unit, both.
    per_unit_us = {name.split(":")[1]: p.get("own_ns", 0) / units / 1000
                   for name, p in patterns.items() if name.startswith("__main__:")}
    seen_us = {name: ns / units / 1000 for name, ns in seen.items()}
    expected = {"inner": 200, "outer": 300, "rec": 200, "gen": 200, "raises": 80}
    for name, truth in expected.items():
        got = per_unit_us[name]
        # At least what the code spins; no more than what the code itself
        # timed around the same calls (preemptions on a busy machine count
        # on both sides), with room for the hook's own callbacks.
        assert 0.9 * truth <= got, (name, got, per_unit_us, seen_us)
        assert 0.8 * seen_us[name] <= got <= 1.2 * seen_us[name] + 20, (
            name, got, per_unit_us, seen_us)
    # The generator's suspended time (2 × 2 ms of sleep per unit) is not its own.
    assert per_unit_us["gen"] < 1000, per_unit_us
    # Recursion counted once: the four levels nest inside the outermost call
    # (each counted would make 200 + 150 + 100 + 50 = 500 µs).
    assert per_unit_us["rec"] < 1.2 * seen_us["rec"] + 20, (per_unit_us, seen_us)
    # Unmatched code is not counted.
    assert "__main__:idle" not in patterns


def test_own_time_is_not_measured_unless_asked(tmp_path):
    units, patterns, _ = run(tmp_path, ENABLED, seconds=1.5)
    assert units > 20
    assert all(p.get("own_ns", 0) == 0 for p in patterns.values()), patterns
