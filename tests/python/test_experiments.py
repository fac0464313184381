"""`speedbump sweep`, `rank` and `report`: the real binary on the reference
workloads (docs/examples.md), with small budgets and generous bounds. The
statistics and scheduling are tested deterministically in Rust on
simulated workloads (tests/experiment_*.rs); these check the whole path on
real processes: windows from the hook's counters, live and restart mode,
discovery, results.json, reports, exit statuses. About 2 minutes.
"""

import json
import os
import shutil
import subprocess
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

from conftest import PYTHON, leftover_files

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SPEEDBUMP = shutil.which("speedbump") or str(Path(PYTHON).parent / "speedbump")


def speedbump(args, tmp_path, runtime_dir, timeout=240):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run(
        [SPEEDBUMP, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL, check=False,
    )


def results(tmp_path):
    return json.loads((tmp_path / "results.json").read_text())


def experiments(tmp_path, kind):
    return [e[kind] for e in results(tmp_path)["experiments"] if e["kind"] == kind]


def test_cpu_loop_python_is_the_bottleneck_and_linear(tmp_path, runtime_dir):
    # The workload does fixed work and exits: auto mode continues in restart
    # mode, one run per window.
    proc = speedbump(
        ["sweep", "--delays", "1us,4us", "--budget", "40s", "--precision", "10%",
         "--warmup", "0.1s", "--", PYTHON, str(EXAMPLES / "cpu_loop.py"), "--items", "100000"],
        tmp_path, runtime_dir)
    assert proc.returncode in (0, 1), proc.stderr
    (sweep,) = experiments(tmp_path, "sweep")
    assert sweep["mode"] in ("restart", "auto"), sweep["mode"]
    assert sweep["python"]["bottleneck"] == "yes", sweep["python"]["message"]
    assert sweep["shape"]["shape"]["kind"] == "linear", sweep["shape"]["reason"]
    # 3 calls per item at 1 µs each dwarf the ~0.5 µs item: a big drop.
    assert sweep["points"][0]["relative"]["relative"] < 0.6
    assert "Python is your bottleneck" in proc.stdout
    assert "shape: linear" in proc.stdout
    assert leftover_files(runtime_dir) == ["speedbump"], "session directories removed"


def test_gpu_bound_pipeline_does_not_drop_below_its_slack(tmp_path, runtime_dir):
    proc = speedbump(
        ["sweep", "--delays", "20us", "--budget", "15s", "--precision", "10%", "--mode", "live",
         "--", PYTHON, str(EXAMPLES / "pipeline.py"), "--regime", "gpu-bound",
         "--seconds", "1000"],
        tmp_path, runtime_dir)
    assert proc.returncode in (0, 1), proc.stderr
    (sweep,) = experiments(tmp_path, "sweep")
    assert sweep["mode"] == "live"
    point = sweep["points"][0]
    # 6 calls x 20 µs = 120 µs of the ~810 µs of slack per step.
    assert point["relative"]["relative"] > 0.9, point["relative"]
    assert point["calls_per_unit"] > 5.5, point
    assert sweep["python"]["bottleneck"] != "yes", sweep["python"]["message"]


def test_rank_offpath_puts_the_quiet_dispatch_above_busy_telemetry(tmp_path, runtime_dir):
    proc = speedbump(
        ["rank", "--under", "offpath_pkg", "--delay", "100us", "--budget", "30s",
         "--precision", "10%", "--census", "1s",
         "--", PYTHON, str(EXAMPLES / "offpath.py"), "--seconds", "1000"],
        tmp_path, runtime_dir)
    assert proc.returncode in (0, 1), proc.stderr
    (census,) = experiments(tmp_path, "census")
    children = [c["path"] for c in census["tree"]["root"]["children"]]
    assert "offpath_pkg" in children, children
    (rank,) = experiments(tmp_path, "rank")
    labels = [c["label"] for c in rank["ranked"]]
    assert labels[:2] == ["offpath_pkg.dispatch", "offpath_pkg.telemetry"], rank["ranked"]
    dispatch, telemetry = rank["ranked"][:2]
    assert dispatch["drop"] > 0.08, dispatch
    assert telemetry["drop"] < dispatch["drop"] - 0.05, rank["ranked"]
    assert rank["under"] == "offpath_pkg"
    assert "offpath_pkg.dispatch" in proc.stdout

    # Step 5: the session as a report.
    out = tmp_path / "report"
    proc = speedbump(["report", "results.json", "--out", str(out)], tmp_path, runtime_dir)
    assert proc.returncode == 0, proc.stderr
    markdown = (out / "report.md").read_text()
    assert "Ranking under" in markdown and "rank-2.svg" in markdown
    root = ET.parse(out / "rank-2.svg").getroot()
    assert root.tag.endswith("svg")
    proc = speedbump(["report", "results.json", "--format", "csv"], tmp_path, runtime_dir)
    assert proc.returncode == 0
    assert proc.stdout.splitlines()[0].startswith("experiment,kind,label,delay_ns")


def test_a_crash_is_reported_with_its_last_lines(tmp_path, runtime_dir):
    (tmp_path / "crash.py").write_text(textwrap.dedent("""
        import time
        import speedbump
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            time.sleep(0.001)
            speedbump.progress()
        print("about to fail", flush=True)
        raise SystemExit(3)
    """))
    proc = speedbump(
        ["sweep", "--pattern", "__main__:*", "--delays", "1us", "--budget", "30s",
         "--mode", "live", "--", PYTHON, "crash.py"],
        tmp_path, runtime_dir, timeout=60)
    assert proc.returncode == 3, (proc.returncode, proc.stderr)
    assert "exited with status 3" in proc.stderr
    assert "about to fail" in proc.stderr
    (sweep,) = experiments(tmp_path, "sweep")
    assert sweep["partial"] is True


def test_errors_say_what_to_do(tmp_path, runtime_dir):
    proc = speedbump(["sweep", "--budget", "90", "--", PYTHON, "x.py"], tmp_path, runtime_dir)
    assert proc.returncode == 2 and "no unit" in proc.stderr
    proc = speedbump(["rank", "--", "no-such-program-xyz"], tmp_path, runtime_dir)
    assert proc.returncode == 2 and "not found" in proc.stderr, proc.stderr
    proc = speedbump(["report", "missing.json"], tmp_path, runtime_dir)
    assert proc.returncode == 2 and "missing.json" in proc.stderr
    (tmp_path / "bad.json").write_text('{"schema": "x/1"}')
    proc = speedbump(["report", "bad.json"], tmp_path, runtime_dir)
    assert proc.returncode == 2 and "schema" in proc.stderr
    proc = speedbump(["sweep", "--help"], tmp_path, runtime_dir)
    assert proc.returncode == 0 and "Examples:" in proc.stdout and "Exit status" in proc.stdout


RATE_PRINTER = """
import time


def work():
    # Wall-clock work, like the delay: the ratio does not depend on how
    # busy the machine's CPUs are while each sweep runs.
    time.sleep(0.0002)


def step():
    return work()


n, last = 0, time.monotonic()
while True:
    step()
    n += 1
    now = time.monotonic()
    if now - last >= 1.0:
        # The rate of the second just done, as servers print it.
        print(f"{n / (now - last):.1f} steps/s", flush=True)
        n, last = 0, now
"""


def test_a_once_a_second_rate_line_agrees_with_a_progress_point(tmp_path, runtime_dir):
    """Rate mode attributes each printed line to the interval before it and
    makes windows hold several lines: the relative throughput it measures
    is the one a progress point measures on the same workload."""
    (tmp_path / "printer.py").write_text(RATE_PRINTER)
    common = ["sweep", "--pattern", "__main__:work", "--delays", "200us", "--precision", "5%",
              "--mode", "live", "--warmup", "1s"]
    command = ["--", PYTHON, str(tmp_path / "printer.py")]
    point_dir, regex_dir = tmp_path / "point", tmp_path / "regex"
    point_dir.mkdir()
    regex_dir.mkdir()
    # The progress-point sweep is the reference. A run of it that ends with
    # no usable pair (seen on CI: no relative at all) is run once more: the
    # claim here is the agreement of the two measurements.
    for attempt in range(2):
        attempt_dir = point_dir / str(attempt)
        attempt_dir.mkdir()
        proc = speedbump([*common, "--budget", "30s", "--progress", "__main__:step", *command],
                         attempt_dir, runtime_dir)
        assert proc.returncode in (0, 1), proc.stderr
        (point,) = experiments(attempt_dir, "sweep")
        if point and point["points"] and (point["points"][0] or {}).get("relative"):
            break
    assert point and point["points"] and (point["points"][0] or {}).get("relative"), (
        point, proc.stderr[-3000:])
    proc = speedbump([*common, "--budget", "150s", "--progress-regex", r"([0-9.]+) steps/s",
                      *command], regex_dir, runtime_dir, timeout=400)
    assert proc.returncode in (0, 1), proc.stderr
    (regex,) = experiments(regex_dir, "sweep")
    p = point["points"][0]["relative"]["relative"]
    r = regex["points"][0]["relative"]["relative"]
    assert p < 0.8, f"the delay slows the workload: {p}"
    # The same within the two measurements' own uncertainty: their 95%
    # intervals overlap (the bug this guards against gave an interval that
    # excluded the truth), or the two agree within 12% outright.
    pi = point["points"][0]["relative"]["interval"]
    ri = regex["points"][0]["relative"]["interval"]
    overlap = bool(pi and ri) and pi["low"] <= ri["high"] and ri["low"] <= pi["high"]
    assert overlap or abs(r / p - 1) < 0.12, f"rate lines {r:.3f} {ri}, progress point {p:.3f} {pi}"


QUICK_PARSER = textwrap.dedent("""
    import time
    import speedbump

    def parse(x):
        return x * 2 + 1

    while True:
        s = 0
        for i in range(20):
            s += parse(i)
        end = time.perf_counter() + 300e-6
        while time.perf_counter() < end:
            pass
        speedbump.progress()
""")


def sweep_quick_parser(pattern, delays, budget, tmp_path, runtime_dir):
    (tmp_path / "quick.py").write_text(QUICK_PARSER)
    return speedbump(
        ["sweep", "--pattern", pattern, "--delays", delays, "--budget", budget,
         "--precision", "10%", "--mode", "live", "--", PYTHON, "quick.py"],
        tmp_path, runtime_dir, timeout=120)


def test_step_2_never_promises_a_saving_larger_than_the_code(tmp_path, runtime_dir):
    # `parse` takes well under a microsecond per call: 10 µs less per call
    # would be more than the code itself, so the prediction is capped at its
    # own time and says so (item 8 of issue 15: "+5.2%" for 10 µs less per
    # call where all of that Python took 2.5 µs).
    proc = sweep_quick_parser("__main__:parse", "1us,10us", "30s", tmp_path, runtime_dir)
    assert proc.returncode in (0, 1), proc.stderr
    (sweep,) = experiments(tmp_path, "sweep")
    own = sweep["own_time"]
    assert own is not None, sweep.get("own_time_note")
    # ~20 calls per unit; own time per call well under the 10 µs asked for
    # (bounds generous: the hook's callbacks and a busy machine inflate it).
    assert 10 <= own["calls_per_unit"] <= 30, own
    assert 0 < own["ns_per_call"] < 5_000, own
    (ten,) = [p for p in sweep["predictions"] if p["faster_ns_per_call"] == 10_000]
    assert ten["capped"] is True, ten
    assert ten["own_ns_per_call"] == own["ns_per_call"]
    assert "10.0 µs per call faster → " in proc.stdout
    assert "all of this code takes" in proc.stdout, proc.stdout
    assert "own time: all of the matched code takes" in proc.stdout, proc.stdout


def test_a_pattern_that_matched_no_call_says_so_and_exits_1(tmp_path, runtime_dir):
    proc = sweep_quick_parser("__main__:parse_txt", "10us", "15s", tmp_path, runtime_dir)
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "matched no call" in proc.stdout, proc.stdout
    assert "too noisy" not in proc.stdout, proc.stdout
    (sweep,) = experiments(tmp_path, "sweep")
    assert sweep["verdicts"][0]["verdict"] == "no_calls", sweep["verdicts"]
    assert sweep["own_time"] is None
    assert "matched no call" in sweep["own_time_note"]
