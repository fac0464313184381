"""The reference workloads in examples/: each runs, prints a parseable
throughput, and behaves as its KNOWN ANSWER says, measured directly (no
speedbump command): without the hook, and under the hook through the
environment variables, as docs/methodology.md does it.

Bounds are generous: the test machine has 2 shared, noisy cores, where one
run's throughput varies by ±15%; the effects asserted are 2-5 times that.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PYTHON

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
THROUGHPUT = re.compile(r"^Throughput: ([0-9.]+) (\S+)/s$", re.MULTILINE)


def clean_env(runtime_dir, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


@pytest.fixture
def example(tmp_path, runtime_dir):
    """example(script, *args, pattern=None, delay_ns=0, env=None) -> (rate,
    unit, stdout, report): runs examples/<script> as a subprocess; with
    `pattern`, under the hook (SPEED_BUMP_TARGETS naming a file with that
    one pattern, SPEED_BUMP_DELAY_NS, a JSON report)."""

    def run(script, *args, pattern=None, delay_ns=0, env=None, timeout=60):
        extra = dict(env or {})
        report = tmp_path / "report.json"
        if pattern is not None:
            targets = tmp_path / "targets.txt"
            targets.write_text(pattern + "\n")
            extra.update({
                "SPEED_BUMP_TARGETS": str(targets),
                "SPEED_BUMP_DELAY_NS": str(delay_ns),
                "SPEED_BUMP_QUIET": "1",
                "SPEED_BUMP_REPORT": str(report),
            })
        proc = subprocess.run(
            [PYTHON, str(EXAMPLES / script), *map(str, args)], check=False,
            env=clean_env(runtime_dir, extra), capture_output=True, text=True, timeout=timeout,
        )
        assert proc.returncode == 0, proc.stderr
        found = THROUGHPUT.findall(proc.stdout)
        assert found, proc.stdout
        data = None
        if report.exists():
            data = json.loads(report.read_text())
            report.unlink()
        return float(found[-1][0]), found[-1][1], proc.stdout, data

    return run


def number(pattern, text):
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in {text!r}"
    return float(m.group(1))


@pytest.mark.parametrize("script, args, unit", [
    ("pipeline.py", ["--regime", "balanced", "--seconds", 1], "steps"),
    ("offpath.py", ["--seconds", 1], "units"),
    ("pool.py", ["--units", 200], "units"),
    ("asyncio_server.py", ["--seconds", 1], "requests"),
    ("slow_start.py", ["--startup-s", 0.1, "--seconds", 1], "steps"),
    ("speedup.py", ["--seconds", 1], "items"),
])
def test_each_example_prints_its_throughput(example, script, args, unit):
    rate, got_unit, stdout, _ = example(script, *args, "--report-every", 0.25)
    assert got_unit == unit
    assert rate > 50, stdout
    # --report-every adds interval lines before the final one.
    assert len(THROUGHPUT.findall(stdout)) >= 3 or script == "pool.py", stdout


def test_pipeline_regimes_behave_as_documented(example):
    # Python-bound: the host limits: at most 1 / python_us (less by the
    # loop's own overhead and by other programs), the device mostly idle.
    rate, _, out, _ = example("pipeline.py", "--regime", "python-bound", "--seconds", 1.5)
    # (1.5: the busy loops' calibration leaves a step ~11% under its
    # documented 600 µs of Python, more when it ran while other programs
    # took the CPU; see examples/_util.py.)
    assert 0.3 / 600e-6 < rate < 1.5 / 600e-6, out
    assert number(r"busy (\d+)%", out) < 50, out
    # --python-us is honoured in CPU time (plus o, the loop's own cost),
    # within the calibration's bias: it times 10 000-iteration loops, whose
    # iterations cost up to ~12% more than those of the pipeline's shorter
    # ones (ints past 256 are allocated; see examples/_util.py).
    assert 0.8 * 600 < number(r"Host: (\d+) us CPU per step", out) < 1.3 * 600, out
    # GPU-bound: the device limits: about 1 / kernel_us, device busy.
    rate, _, out, _ = example("pipeline.py", "--regime", "gpu-bound", "--seconds", 1.5)
    assert 0.7 / 1000e-6 < rate < 1.1 / 1000e-6, out
    assert number(r"busy (\d+)%", out) > 75, out
    # ...and it does not care how fast the host is (slack).
    # The better of two runs (a CI run on 3.11 read 643/s against 861/s once).
    slower, _, out, _ = max((example("pipeline.py", "--regime", "gpu-bound", "--python-us", 400,
                                     "--seconds", 1.5) for _ in range(2)), key=lambda r: r[0])
    assert slower > 0.8 * rate, out


def test_pipeline_threshold_under_the_hook(example):
    # gpu-bound, `*:*`, 6 matched calls per step: 50 µs per call fits in
    # the slack (flat); 400 µs per call does not: 1 / (6 x 400 + P + o).
    base, *_ = example("pipeline.py", "--regime", "gpu-bound", "--seconds", 1.5,
                       pattern="*:*", delay_ns=0)
    # The better of two runs: a delay that broke the slack slows both, while
    # another program's burst rarely hits both (a CI run read 670/s against
    # 905/s once).
    flat = max(example("pipeline.py", "--regime", "gpu-bound", "--seconds", 1.5,
                       pattern="*:*", delay_ns=50_000)[0] for _ in range(2))
    steep, _, out, report = example("pipeline.py", "--regime", "gpu-bound", "--seconds", 1.5,
                                    pattern="*:*", delay_ns=400_000)
    assert flat > 0.85 * base
    assert steep < 0.5 * base, out
    calls = {f["name"]: f["calls"] for f in report["functions"]}
    steps = number(r"(\d+) steps in", out)
    assert calls["__main__:prepare_inputs"] == 3 * steps
    assert calls["__main__:schedule"] == 2 * steps
    assert calls["__main__:launch"] == steps


def test_offpath_known_answer(example):
    """Slowing the quiet dispatch drops throughput; slowing the busy
    telemetry does not, although telemetry burns more CPU."""
    base, dispatch, telemetry = [], [], []
    for _ in range(2):
        rate, _, out, _ = example("offpath.py", "--seconds", 1.5)
        assert number(r"telemetry ([0-9.]+) s", out) > number(r"main ([0-9.]+) s", out), out
        base.append(rate)
        rate, *_ = example("offpath.py", "--seconds", 1.5,
                           pattern="offpath_pkg.dispatch:*", delay_ns=300_000)
        dispatch.append(rate)
        rate, _, _, report = example("offpath.py", "--seconds", 1.5,
                                     pattern="offpath_pkg.telemetry.*:*", delay_ns=150_000)
        assert report["functions"], "telemetry's process was not hooked"
        telemetry.append(rate)
    # Expected: dispatch ≈ 355/655 ≈ 0.54 of the baseline; telemetry ≈ 1.
    d, t = max(dispatch) / max(base), max(telemetry) / max(base)
    assert d < 0.75, (base, dispatch)
    assert t > 0.85, (base, telemetry)


def test_pool_counts_are_exact(example):
    units = 400
    _, _, _, report = example("pool.py", "--units", units, pattern="__main__:*", delay_ns=0)
    calls = {f["name"]: f["calls"] for f in report["functions"]}
    assert calls["__main__:handle"] == units
    assert calls["__main__:parse"] == units
    assert calls["__main__:score"] == 3 * units
    assert calls["__main__:warm"] == 2


def test_asyncio_resumes_matter(example):
    # handle_client starts once per connection, resumes twice per request:
    # at 1 ms, resumes cost ~2 ms per ~0.15 ms request; starts nothing.
    base, *_ = example("asyncio_server.py", "--seconds", 1.5)
    starts, *_ = example("asyncio_server.py", "--seconds", 1.5,
                         pattern="__main__:handle_client", delay_ns=1_000_000)
    resumes, *_ = example("asyncio_server.py", "--seconds", 1.5,
                          pattern="__main__:handle_client", delay_ns=1_000_000,
                          env={"SPEED_BUMP_RESUME": "1"})
    # Starts cost little (a connection starts once); CI saw 0.52 x base on a
    # noisy run, so only "far less than resumes" is asserted tightly.
    assert starts > 0.4 * base
    assert resumes < 0.3 * starts
    assert resumes < 600  # at most 1 / (2 x 1 ms + the request itself)


HOT_NS = re.compile(r"Hot: ([0-9.]+) ns per call")


def test_speedup_flag_makes_it_truly_faster(example):
    # 4 calls x 10 µs less of ~120 µs per item: about +50%.
    slow, fast, slow_hot, fast_hot = [], [], [], []
    for _ in range(2):
        rate, _, out, _ = example("speedup.py", "--seconds", 1)
        slow.append(rate)
        slow_hot.append(float(HOT_NS.search(out).group(1)))
        rate, _, out, _ = example("speedup.py", "--seconds", 1, "--faster-ns", 10_000)
        fast.append(rate)
        fast_hot.append(float(HOT_NS.search(out).group(1)))
    # Generous: on a shared 2-core machine runs differ by 15% and more;
    # the exact gain is measured by benches/engine_bench.py.
    assert 1.05 < max(fast) / max(slow) < 2.2, (slow, fast)
    # The printed cost of hot drops by about the 10 µs asked (the bench
    # checks it closely; loaded machines stretch wall time, and CI saw 2.4 µs
    # while other builds ran: a drop at all, and not more than asked).
    assert 1_000 < min(slow_hot) - min(fast_hot) < 15_000, (slow_hot, fast_hot)


def test_slow_start_takes_its_time_and_stops_cleanly(runtime_dir):
    start = time.monotonic()
    proc = subprocess.Popen(
        [PYTHON, str(EXAMPLES / "slow_start.py"), "--startup-s", "1"],
        env=clean_env(runtime_dir), stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout.readline().strip() == "Ready: serving steps"
    assert time.monotonic() - start >= 0.95
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert float(THROUGHPUT.search(out).group(1)) > 100
