"""Rankings on examples/serving_loop.py, a serving loop whose quiet
scheduling stage is critical and whose busy post-processing is hidden
behind a device in another process (docs/ranking.md). Its ground truth is
checked here by editing the code (`--faster`); benches/rank_bench.py
measures how `speedbump rank` with default options ranks it. Bounds are
generous: the machine is shared."""

import statistics
import subprocess

from conftest import PYTHON
from test_experiments import EXAMPLES

LOOP = str(EXAMPLES / "serving_loop.py")


def throughput(*args):
    out = subprocess.run([PYTHON, LOOP, "--seconds", "1.5", *args], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return float(out.strip().splitlines()[-1].split()[1])


def test_ground_truth_by_editing_the_code():
    # The model the ranking test relies on, with more slack than the
    # defaults (a shared CI machine may run the busy loops well below their
    # calibrated speed): sched 1200 µs of a ~6.3 ms unit, post 1200 µs
    # behind a 5 ms device. Interleaved runs, medians of 5: the machine's
    # speed drifts (a CI run's medians of 3 read +2.8% for sched, where
    # +9% is usual).
    shape = ("--sched-us", "1200", "--device-us", "5000")
    base, sched, post = [], [], []
    for _ in range(5):
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


# The ranking itself on this workload (critical first, hidden low, within the
# wall-time bars) is measured by benches/rank_bench.py: on a busy 2-core
# machine the default 90 s budget does not always separate criticality 1
# from 0, so it is a benchmark, not a test (docs/ranking.md).
