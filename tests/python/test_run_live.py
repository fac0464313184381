"""Live control through `speedbump run`: settings changed while the workload
runs reach every hooked process quickly, and counts stay per generation.

These need a hook that follows the launcher's control block (issue 3).
"""

import json
import statistics
import subprocess
import time

import pytest
from conftest import PYTHON
from test_run import EXAMPLES, SPEEDBUMP, base_env, wait_for


@pytest.fixture
def work(tmp_path):
    d = tmp_path / "work"
    d.mkdir()
    return d


# The bar is 50 ms, measured by benches/run_bench.py (median 10 ms, max 27 ms
# here). Tests only check that changes arrive: the machine running them is
# shared, and with 4 busy processes on 2 busy cores a process can wait
# hundreds of ms for a CPU.
LATENCY_MEDIAN_LIMIT_MS = 300
LATENCY_LIMIT_MS = 3000
# A call delayed by 2 ms takes about that long (longer when preempted
# mid-spin); undelayed calls take a few µs.
SLOW_NS = 300_000


def observed_latencies(calls, applied, delayed_after):
    """For each change (its publication time and whether tick() is delayed
    after it), the time until the first call that starts after publication
    and behaves the new way, in ms."""
    out = []
    for change, delayed in zip(applied, delayed_after):
        published = change["published_monotonic_ns"]
        after = [(t, d) for t, d in calls if t >= published]
        # Three calls in a row behave the new way (under CPU contention the
        # hook may shorten a spin after an overshoot, so one call is not proof).
        first = next((t for i, (t, _) in enumerate(after)
                      if len(after[i:i + 3]) == 3
                      and all((d >= SLOW_NS) == delayed for _, d in after[i:i + 3])), None)
        assert first is not None, f"generation {change['generation']} never took effect"
        out.append((first - published) / 1e6)
    return out


def run_retarget(work, runtime_dir, processes, schedule, seconds):
    (work / "schedule.txt").write_text(schedule)
    out = work / "calls.json"
    r = subprocess.run(
        [SPEEDBUMP, "run", "--pattern", "__main__:tick", "--delay", "0",
         "--schedule", "schedule.txt", "--json", "run.jsonl", "--",
         PYTHON, str(EXAMPLES / "run_retarget.py"), str(seconds), str(out), str(processes)],
        cwd=work, env=base_env(runtime_dir), capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL, check=False,
    )
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in (work / "run.jsonl").read_text().splitlines()]
    return r, records, json.loads(out.read_text())


# Changes at 1.5 s to 4 s (generations 2 to 7); `on` brings back the 2 ms.
SCHEDULE = """\
at 1500ms delay 2ms
at +500ms delay 0
at +500ms delay 2ms
at +500ms off
at +500ms on
at +500ms delay 0
"""
DELAYED_AFTER = [True, False, True, False, True, False]
LAST = 7


@pytest.mark.parametrize("processes", [1, 4])
def test_function_is_delayed_and_undelayed_live(work, runtime_dir, processes):
    _r, records, calls = run_retarget(work, runtime_dir, processes, SCHEDULE, 5.0)
    applied = [x for x in records if x["type"] == "applied"]
    assert [a["generation"] for a in applied] == list(range(2, LAST + 1))
    latencies = []
    for a in applied:
        assert not a["timed_out"], a
        assert len(a["processes"]) == processes, a
        latencies.append(a["max_latency_ms"])
        # Every process saw it, as measured inside the workload too.
    observed = [lat for per_process in calls
                for lat in observed_latencies(per_process, applied, DELAYED_AFTER)]
    print(f"launcher-measured max latency per change (ms): {latencies}")
    print(f"workload-observed latencies (ms): median {statistics.median(observed):.1f}, "
          f"max {max(observed):.1f}")
    assert statistics.median(latencies) <= LATENCY_MEDIAN_LIMIT_MS
    assert max(latencies) <= LATENCY_LIMIT_MS
    assert statistics.median(observed) <= LATENCY_MEDIAN_LIMIT_MS
    assert max(observed) <= LATENCY_LIMIT_MS
    summary = records[-1]
    assert summary["type"] == "summary"
    assert [c["generation"] for c in summary["changes"]] == list(range(1, LAST + 1))
    tick = next(f for f in summary["functions"] if f["name"] == "__main__:tick")
    slow_calls = sum(1 for per_process in calls for _, d in per_process if d >= SLOW_NS)
    # About 1.5 s delayed per process, at 2 ms a call: some 750 each.
    assert 0.8 * slow_calls <= tick["delayed_calls"] <= 1.25 * max(slow_calls, 1)
    # Spins are wall time: a preempted spin counts its overshoot.
    assert tick["injected_ns"] >= 0.9 * tick["delayed_calls"] * 2_000_000
    # While off (generation 5), calls are not counted at all.
    off_start = applied[3]["published_monotonic_ns"]
    off_end = applied[4]["published_monotonic_ns"]
    limit_ns = LATENCY_LIMIT_MS * 1_000_000
    every = [t for per_process in calls for t, _ in per_process]
    wide = sum(1 for t in every if off_start <= t < off_end + limit_ns)
    narrow = sum(1 for t in every if off_start + limit_ns <= t < off_end)
    assert len(every) - wide <= tick["calls"] <= len(every) - narrow


def test_samples_follow_generations_and_never_mix_them(work, runtime_dir):
    _r, records, _ = run_retarget(work, runtime_dir, 2, SCHEDULE, 5.0)
    samples = [x for x in records if x["type"] == "sample"]
    seen = [s["generations"] for s in samples if s["generations"]]
    assert seen[0] == [1] and seen[-1] == [LAST], seen
    flat = sorted({g for gens in seen for g in gens})
    assert flat == list(range(1, LAST + 1))
    # Around each change a tick is left out of the rates.
    assert any(not s["complete"] for s in samples)
    # While delayed by 2 ms, tick() runs at most ~500 times a second per
    # process; a rate mixing generations would show fast-phase rates.
    for s in samples:
        if s["generations"] in ([2], [4], [6]) and s["complete"] and s["rate_window_s"] > 0.2:
            f = [f for f in s["functions"] if f["name"] == "__main__:tick"]
            if f and f[0]["rates"]:
                assert f[0]["rates"]["calls_per_s"] < 2 * 600, s


def test_patterns_change_live(work, runtime_dir):
    source = (
        "import time\n"
        "def a(): pass\n"
        "def b(): pass\n"
        "end = time.monotonic() + 3\n"
        "while time.monotonic() < end:\n"
        "    a(); b(); time.sleep(0.001)\n"
    )
    (work / "main.py").write_text(source)
    (work / "schedule.txt").write_text("at 1s patterns __main__:b\nat 2s add-pattern __main__:a\n")
    r = subprocess.run(
        [SPEEDBUMP, "run", "--pattern", "__main__:a", "--delay", "0", "--schedule",
         "schedule.txt", "--json", "run.jsonl", "--", PYTHON, "main.py"],
        cwd=work, env=base_env(runtime_dir), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )
    assert r.returncode == 0, r.stderr
    records = [json.loads(line) for line in (work / "run.jsonl").read_text().splitlines()]
    summary = records[-1]
    patterns = {p["pattern"]: p for p in summary["patterns"]}
    assert patterns["__main__:a"]["generations"] == [1, 3]
    assert patterns["__main__:b"]["generations"] == [2, 3]
    a = next(f for f in summary["functions"] if f["name"] == "__main__:a")
    b = next(f for f in summary["functions"] if f["name"] == "__main__:b")
    # a: counted for ~1 s, then not, then again for ~1 s; b: for ~2 s.
    assert 0.3 < a["calls"] / b["calls"] < 1.5, (a, b)


def test_progress_point_counts_completed_calls(work, runtime_dir):
    r = subprocess.run(
        [SPEEDBUMP, "run", "--delay", "0", "--progress", "__main__:Engine.step",
         "--json", "run.jsonl", "--", PYTHON, str(EXAMPLES / "run_progress.py"), "50", "1.0"],
        cwd=work, env=base_env(runtime_dir), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads((work / "run.jsonl").read_text().splitlines()[-1])
    point = summary["throughput"][0]
    assert point["source"] == "point" and point["name"] == "__main__:Engine.step"
    assert point["units"] == 50
    api = [t for t in summary["throughput"] if t["source"] == "api"]
    assert api and api[0]["units"] == 50, "speedbump.progress() is reported beside it"


def test_commands_on_stdin(work, runtime_dir):
    (work / "main.py").write_text(
        "import time\n"
        "def f(): pass\n"
        "end = time.monotonic() + 4\n"
        "while time.monotonic() < end:\n"
        "    f(); time.sleep(0.0005)\n"
    )
    proc = subprocess.Popen(
        [SPEEDBUMP, "run", "--pattern", "__main__:f", "--delay", "0", "--control-stdin",
         "--json", "run.jsonl", "--", PYTHON, "main.py"],
        cwd=work, env=base_env(runtime_dir), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    wait_for(lambda: (work / "run.jsonl").exists() and "sample" in (work / "run.jsonl").read_text(),
             30, "the first sample")
    time.sleep(0.5)
    proc.stdin.write("delay 100us\nfrobnicate\n")
    proc.stdin.flush()
    time.sleep(1.0)
    proc.stdin.write("stop\n")
    proc.stdin.flush()
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "unknown command 'frobnicate'" in err
    records = [json.loads(line) for line in (work / "run.jsonl").read_text().splitlines()]
    summary = records[-1]
    assert summary["exit"]["stopped"]
    assert summary["changes"][1]["settings"]["delay_ns"] == 100_000
    f = next(x for x in summary["functions"] if x["name"] == "__main__:f")
    assert f["delayed_calls"] > 0 and f["injected_ns"] >= f["delayed_calls"] * 90_000
