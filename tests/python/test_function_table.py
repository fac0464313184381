"""A function table filled at start-up makes room for what runs at steady
state: the hook moves to a larger successor segment (same ids, counters
from zero) and every reader follows it (ARCHITECTURE.md, "Growing the
function table").

The workload calls 20,000 distinct functions once each (more than the
16,384 slots of a segment's default function table), as a compiler's
warm-up does, then loops over three steady functions. With `*:*` applied
from the start, the steady functions must be counted by name, exactly,
and never fall into `<other>`; the process must count once.
"""

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

from conftest import PYTHON, function

SPEEDBUMP = shutil.which("speedbump") or str(Path(PYTHON).parent / "speedbump")

START_UP_FUNCTIONS = 20_000
STEADY_CALLS = 3_000


def workload(pace):
    """The workload's source; `pace`: seconds to sleep every 100 steady steps."""
    return textwrap.dedent(f"""
    import time

    # Start-up: {START_UP_FUNCTIONS} distinct functions, each called once.
    source = "\\n".join(
        f"def start_up_{{i}}():\\n    return {{i}}" for i in range({START_UP_FUNCTIONS})
    )
    namespace = {{"__name__": "__main__"}}
    exec(compile(source, "start_up.py", "exec"), namespace)
    for i in range({START_UP_FUNCTIONS}):
        namespace[f"start_up_{{i}}"]()

    # Steady state: first called only now.
    def steady_parse(x):
        return x + 1

    def steady_score(x):
        return x * 2

    def steady_step(x):
        return steady_score(steady_parse(x))

    total = 0
    pace = {pace}
    for i in range({STEADY_CALLS}):
        total += steady_step(i)
        if pace and i % 100 == 0:
            time.sleep(pace)
    print("total", total)
""")

STEADY = ("__main__:steady_parse", "__main__:steady_score", "__main__:steady_step")


def other_calls(functions):
    return sum(f["calls"] for f in functions if f["name"] == "<other>")


def test_steady_functions_get_their_own_rows_after_start_up_filled_the_table(run_py):
    """The exit summary (every segment of the session, summed)."""
    r = run_py(workload(0), patterns="*:*", env={"SPEED_BUMP_DELAY_NS": "0"})
    assert r.returncode == 0, r.stderr
    assert "total" in r.stdout
    report = r.report
    for name in STEADY:
        assert function(report, name)["calls"] == STEADY_CALLS, name
    assert function(report, "__main__:start_up_19999")["calls"] == 1
    assert other_calls(report["functions"]) == 0, "nothing fell into <other>"
    assert report["functions_matched"] > START_UP_FUNCTIONS
    assert len(report["processes"]) == 1, report["processes"]
    assert not any("function table is full" in w for w in report["warnings"]), report["warnings"]
    assert not r.speedbump_lines() or all("table" not in line for line in r.speedbump_lines()), \
        r.stderr


def test_the_live_counts_follow_the_process_into_its_larger_table(tmp_path, runtime_dir):
    """`speedbump run`: the live sampler reads the first segment to its
    final counts, then the successor, and counts the process once."""
    out = tmp_path / "run.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Paced so that the launcher samples while the steady loop runs.
    proc = subprocess.run(
        [SPEEDBUMP, "run", "--pattern", "*:*", "--delay", "0", "--interval", "50ms",
         "--json", str(out), "--",
         PYTHON, "-c", workload(0.01)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
        stdin=subprocess.DEVNULL, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines() if line]
    (summary,) = [r for r in records if r["type"] == "summary"]
    functions = {f["name"]: f for f in summary["functions"]}
    for name in STEADY:
        assert name in functions, (name, proc.stderr)
        assert functions[name]["calls"] == STEADY_CALLS, name
        assert functions[name]["processes"] == 1, name
    assert other_calls(summary["functions"]) == 0, "nothing fell into <other>"
    processes = summary["processes"]
    assert len(processes) == 1, processes
    assert processes[0]["calls"] == sum(f["calls"] for f in summary["functions"])
    # While the steady loop ran, the live rows named the steady functions
    # with a call rate.
    rated = {
        f["name"]
        for s in records if s["type"] == "sample"
        for f in s["functions"]
        if f["rates"] and f["rates"]["calls_per_s"] > 0
    }
    assert set(STEADY) <= rated, sorted(rated)[:20]
    assert "<other>" not in rated


def test_a_fork_after_the_table_grew_counts_in_its_own_segment(run_py):
    """A child forked after the move starts its own segment with the larger
    table and the same ids; parent and child count once each."""
    source = workload(0).replace(
        "total = 0\n",
        "import os\nchild = os.fork()\ntotal = 0\n",
    ).replace(
        'print("total", total)\n',
        'print("total", total)\n'
        "if child:\n    os.waitpid(child, 0)\nelse:\n    os._exit(0)\n",
    )
    r = run_py(source, patterns="*:*", env={"SPEED_BUMP_DELAY_NS": "0"})
    assert r.returncode == 0, r.stderr
    report = r.report
    for name in STEADY:
        entry = function(report, name)
        assert entry["calls"] == 2 * STEADY_CALLS, name
        assert entry["processes"] == 2, name
    assert other_calls(report["functions"]) == 0
    assert len(report["processes"]) == 2, report["processes"]


STEADY_FOREVER = f"""
import time
source = "\\n".join(
    f"def start_up_{{i}}():\\n    return {{i}}" for i in range({START_UP_FUNCTIONS})
)
namespace = {{"__name__": "__main__"}}
exec(compile(source, "start_up.py", "exec"), namespace)
for i in range({START_UP_FUNCTIONS}):
    namespace[f"start_up_{{i}}"]()

def steady_parse(x):
    return x + 1

def steady_score(x):
    return x * 2

def steady_step(x):
    time.sleep(0.0002)
    return steady_score(steady_parse(x))

i = 0
deadline = time.monotonic() + 200
while time.monotonic() < deadline:
    steady_step(i)
    i += 1
"""


def test_the_census_names_the_steady_functions_not_other(tmp_path, runtime_dir):
    """The census (`*:*` from the start, counted once the rate is steady)
    names the steady functions; none of its calls fall into `<other>`."""
    (tmp_path / "steady.py").write_text(STEADY_FOREVER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [SPEEDBUMP, "rank", "--progress", "__main__:steady_step", "--census", "1s",
         "--budget", "5s", "--delay", "100us", "--precision", "20%",
         "--", PYTHON, "steady.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
        stdin=subprocess.DEVNULL, check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    (census,) = [e["census"] for e in results["experiments"] if e["kind"] == "census"]
    tree = census["tree"]
    assert tree["other_calls"] == 0, proc.stderr
    (main,) = [c for c in tree["root"]["children"] if c["path"] == "__main__"]
    named = {c["path"]: c["calls"] for c in main["children"]}
    assert set(STEADY) <= set(named), (named, proc.stderr)
    assert all(named[name] > 0 for name in STEADY), named
    assert "function table is full" not in proc.stderr
