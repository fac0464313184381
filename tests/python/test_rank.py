"""Rankings on examples/serving_loop.py, a serving loop whose quiet
scheduling stage is critical and whose busy post-processing is hidden
behind a device in another process (docs/ranking.md). Its ground truth is
checked by editing the code (`--faster`), then `speedbump rank` with
default options must find it: every child measured, the critical stage
first, hidden stages low. Bounds are generous: the machine is shared."""

import statistics
import subprocess

import pytest

from conftest import PYTHON
from test_experiments import EXAMPLES, experiments, speedbump

LOOP = str(EXAMPLES / "serving_loop.py")


def throughput(*args):
    out = subprocess.run([PYTHON, LOOP, "--seconds", "1.5", *args], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return float(out.strip().splitlines()[-1].split()[1])


def test_ground_truth_by_editing_the_code():
    # The model the ranking test relies on, with more slack than the
    # defaults (a shared CI machine may run the busy loops well below their
    # calibrated speed): sched 1200 µs of a ~6.3 ms unit, post 1200 µs
    # behind a 5 ms device. Interleaved runs, medians: the machine's speed
    # drifts.
    shape = ("--sched-us", "1200", "--device-us", "5000")
    base, sched, post = [], [], []
    for _ in range(3):
        base.append(throughput(*shape))
        sched.append(throughput(*shape, "--faster", "sched"))
        post.append(throughput(*shape, "--faster", "post"))
    base, sched, post = (statistics.median(x) for x in (base, sched, post))
    # sched: 1200 of ~6300 µs per unit, halved: about +10%.
    assert sched > base * 1.03, (base, sched)
    # post: hidden behind the device: no gain on a quiet machine. Under CPU
    # contention the busy post loop also delays the device process's wake-up,
    # so a few % show (+4% was seen on a loaded CI machine): compare with
    # sched's gain rather than with zero.
    assert post - base < (sched - base) / 1.5, (base, sched, post)


@pytest.mark.xfail(
    strict=False,
    reason="issue 10, open: on a shared 2-core machine the 90 s default budget does not "
    "always separate criticality 1 from 0 (pair noise ~0.1-0.15); docs/ranking.md, "
    "known limits",
)
def test_rank_finds_the_quiet_critical_stage(tmp_path, runtime_dir):
    proc = speedbump(
        ["rank", "--under", "serving", "--progress", "__main__:Engine.step",
         "--", PYTHON, LOOP, "--children", "5", "--seconds", "1000"],
        tmp_path, runtime_dir, timeout=300)
    assert proc.returncode in (0, 1), proc.stderr
    (rank,) = experiments(tmp_path, "rank")
    ranked = rank["ranked"]
    labels = [c["label"] for c in ranked]
    assert sorted(labels) == ["serving.post1", "serving.post2", "serving.post3",
                              "serving.post4", "serving.sched"], labels
    first = ranked[0]
    assert first["label"] == "serving.sched", ranked
    assert 0.4 <= first["criticality"] <= 2.0, first
    for c in ranked[1:]:
        assert c["criticality"] < 0.5, c
    # Equal dose: the quiet stage got a long delay per call, the busy ones short.
    doses = [c["dose"] for c in ranked]
    assert max(doses) < 2 * min(doses), doses
    assert first["delay_ns"] > 50 * min(c["delay_ns"] for c in ranked[1:])
    assert "criticality" in proc.stdout and "dose" in proc.stdout
