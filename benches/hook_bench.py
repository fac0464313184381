#!/usr/bin/env python3
"""Benchmark of the speedbump hook (issue 2's bars), in one run.

Per-call cost of a trivial function with no hook, matched at delay 0,
unmatched (after DISABLE on 3.12+), the time added per call at requested 1/10/100 µs,
and the same for a ~30-line pure-Python sys.monitoring hook
(benches/reference_hook.py); interpreter start-up with the variables unset
and set; timing-window edges against process start. Every figure is a
median over processes run interleaved, compared with a reference measured
in the same run.

    .venv/bin/python benches/hook_bench.py            # ~2 minutes
    .venv/bin/python benches/hook_bench.py --rounds 15 --json out.json

Run it with the Python of a venv where scripts/setup.sh installed speedbump.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Times f (the function a configuration targets) and g (an identical twin
# that is never matched) alternately in one process, so that f - g is the
# hook's cost measured against a reference in the same run.
WORKER = r"""
import sys, time
mode, n, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def f():
    pass
def g():
    pass
def target():
    pass
target()
def loop_f(n):
    for _ in range(n):
        f()
def loop_g(n):
    for _ in range(n):
        g()
times_f, times_g = [], []
for _ in range(reps):
    t0 = time.perf_counter_ns()
    loop_f(n)
    t1 = time.perf_counter_ns()
    loop_g(n)
    t2 = time.perf_counter_ns()
    times_f.append(t1 - t0)
    times_g.append(t2 - t1)
times_f.sort(); times_g.sort()
print(times_f[reps // 2] / n, times_g[reps // 2] / n)
"""

# 3.10/3.11 only: the unmatched cost within one process, switching the
# frame-evaluation function between speedbump's and CPython's default
# (through ctypes) around alternate loops, so that machine load, which moves
# the cross-process figures by tens of ns, cancels out.
IN_PROCESS = r"""
import ctypes, statistics, sys, time
api = ctypes.pythonapi
api.PyInterpreterState_Get.restype = ctypes.c_void_p
api._PyInterpreterState_GetEvalFrameFunc.restype = ctypes.c_void_p
api._PyInterpreterState_GetEvalFrameFunc.argtypes = [ctypes.c_void_p]
api._PyInterpreterState_SetEvalFrameFunc.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
interp = api.PyInterpreterState_Get()
ours = api._PyInterpreterState_GetEvalFrameFunc(interp)
default = ctypes.cast(api._PyEval_EvalFrameDefault, ctypes.c_void_p).value
assert ours not in (None, default), "speedbump's evaluation function is not installed"
def g():
    pass
def loop(n):
    for _ in range(n):
        g()
n, reps = int(sys.argv[1]), int(sys.argv[2])
added = []
for _ in range(reps):
    api._PyInterpreterState_SetEvalFrameFunc(interp, default)
    t0 = time.perf_counter_ns(); loop(n); t1 = time.perf_counter_ns()
    api._PyInterpreterState_SetEvalFrameFunc(interp, ours)
    t2 = time.perf_counter_ns(); loop(n); t3 = time.perf_counter_ns()
    added.append(((t3 - t2) - (t1 - t0)) / n)
print(statistics.median(added))
"""

WINDOW = r"""
import json, time
def f():
    pass
f()  # the first call decides and creates the segment
calls = []
end = time.monotonic() + 1.4
while time.monotonic() < end:
    t0 = time.monotonic_ns()
    f()
    calls.append((t0, time.monotonic_ns() - t0 > 100_000))
# Edges: the first call that begins 5 delayed calls in a row, and the first
# undelayed call after the last 5 in a row (isolated preemptions elsewhere
# are not the window; debt payback may shorten single delays).
flags = [d for _, d in calls]
runs = [i for i in range(len(flags) - 4) if all(flags[i:i + 5])]
first, after = (runs[0], runs[-1] + 5) if runs else (0, 0)
after = min(after, len(calls) - 1)
print(json.dumps([calls[first][0], calls[after][0]] if after > first else None))
"""


def clean_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPEED_BUMP_", "REFERENCE_HOOK_"))}
    env["SPEED_BUMP_QUIET"] = "1"
    return env


class Bench:
    def __init__(self, python: str, workdir: Path):
        self.python = python
        self.workdir = workdir
        (workdir / "worker.py").write_text(WORKER)
        (workdir / "window.py").write_text(WINDOW)
        self.targets = {}
        for name in ("f", "target"):
            path = workdir / f"{name}.txt"
            path.write_text(f"__main__:{name}\n")
            self.targets[name] = str(path)

    def per_call_ns(self, config: dict, n: int, reps: int) -> float:
        env = clean_env()
        env.pop("SPEED_BUMP_QUIET")
        mode = "plain"
        if config.get("reference") is not None:
            env["PYTHONPATH"] = str(HERE)
            env["REFERENCE_HOOK_PATTERNS"] = f"__main__:{config['reference']}"
            env["REFERENCE_HOOK_DELAY_NS"] = str(config.get("delay_ns", 0))
            mode = "reference"
        if config.get("match") is not None:
            env["SPEED_BUMP_TARGETS"] = self.targets[config["match"]]
            env["SPEED_BUMP_DELAY_NS"] = str(config.get("delay_ns", 0))
            env["SPEED_BUMP_QUIET"] = "1"
        code = WORKER if mode == "plain" else "import reference_hook\n" + WORKER
        out = subprocess.run([self.python, "-c", code, mode, str(n), str(reps)], env=env,
                             capture_output=True, text=True, check=True)
        f_ns, g_ns = map(float, out.stdout.split())
        return f_ns, g_ns


CONFIGS = {
    # name: (config, calls per timed loop, timed loops per process)
    "no hook": ({}, 300_000, 9),
    "speedbump: matched, delay 0": ({"match": "f"}, 300_000, 9),
    "speedbump: unmatched": ({"match": "target"}, 300_000, 9),
    "speedbump: delay 1 µs": ({"match": "f", "delay_ns": 1_000}, 20_000, 5),
    "speedbump: delay 10 µs": ({"match": "f", "delay_ns": 10_000}, 3_000, 5),
    "speedbump: delay 100 µs": ({"match": "f", "delay_ns": 100_000}, 300, 5),
    "reference: matched, delay 0": ({"reference": "f"}, 300_000, 9),
    "reference: unmatched": ({"reference": "target"}, 300_000, 9),
    "reference: delay 10 µs": ({"reference": "f", "delay_ns": 10_000}, 3_000, 5),
}


def measure_in_process(bench: Bench, rounds: int) -> list:
    """3.10/3.11: the unmatched cost per call measured inside each process
    (IN_PROCESS); one median per process."""
    env = dict(clean_env(), SPEED_BUMP_TARGETS=bench.targets["target"])
    return [float(subprocess.run([bench.python, "-c", IN_PROCESS, "100000", "31"], env=env,
                                 capture_output=True, text=True, check=True).stdout)
            for _ in range(rounds)]


def measure_calls(bench: Bench, rounds: int) -> dict:
    samples = {name: [] for name in CONFIGS}
    for r in range(rounds):
        for name, (config, n, reps) in CONFIGS.items():
            samples[name].append(bench.per_call_ns(config, n, reps))
        print(f"  round {r + 1}/{rounds}", file=sys.stderr)
    return samples


# What setuptools installs into most environments (distutils-precedence.pth):
# a .pth of another package, so that the first .pth's own cost is not
# counted as speedbump's.
OTHER_PTH = "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'\n"


def make_startup_venvs(tmp: Path, other_pth: bool = False):
    """Two venvs alike but for speedbump (this interpreter's installed copy
    of the package and its .pth), so start-up differences are speedbump's;
    with `other_pth`, both also hold another package's .pth file."""
    import shutil
    import sysconfig
    import speedbump

    pythons = []
    for name in ("bare", "installed"):
        name = f"{name}-other-pth" if other_pth else name
        subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(tmp / name)],
                       check=True)
        pythons.append(str(tmp / name / "bin" / "python"))
        if other_pth:
            purelib = subprocess.run(
                [pythons[-1], "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                capture_output=True, text=True, check=True).stdout.strip()
            (Path(purelib) / "distutils-precedence.pth").write_text(OTHER_PTH)
    site = Path(subprocess.run([pythons[1], "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    package = Path(speedbump.__file__).parent
    shutil.copytree(package, site / "speedbump", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(Path(sysconfig.get_path("purelib")) / "speedbump.pth", site / "speedbump.pth")
    # As pip does at install time (whatever PYTHONDONTWRITEBYTECODE says).
    subprocess.run([pythons[1], "-m", "compileall", "-q", str(site / "speedbump")], check=True,
                   env=dict(os.environ, PYTHONDONTWRITEBYTECODE=""))
    return pythons[0], pythons[1]


BARE = "bare venv (no speedbump), variables unset"
BARE_OTHER_PTH = "bare venv with another package's .pth, variables unset"


def measure_startup(venvs: tuple, venvs_other_pth: tuple, bench: Bench, runs: int) -> dict:
    bare_python, python = venvs
    env_unset = clean_env()
    env_set = dict(env_unset, SPEED_BUMP_TARGETS=bench.targets["target"],
                   SPEED_BUMP_DELAY_NS="10000")
    cases = {
        BARE: (bare_python, env_unset),
        "bare venv again (A/A: the noise level)": (bare_python, env_unset),
        "speedbump installed, variables unset": (python, env_unset),
        "speedbump installed, variables set (delay 10 µs)": (python, env_set),
        BARE_OTHER_PTH: (venvs_other_pth[0], env_unset),
        "speedbump installed beside another .pth, variables unset": (venvs_other_pth[1], env_unset),
    }
    samples = {name: [] for name in cases}
    for _ in range(runs):
        for name, (py, env) in cases.items():
            t0 = time.perf_counter_ns()
            subprocess.run([py, "-c", "pass"], env=env, check=True)
            samples[name].append((time.perf_counter_ns() - t0) / 1e6)
    return samples


def measure_window(python: str, bench: Bench, runs: int, start_ms=500, duration_ms=500) -> dict:
    def preexec_exact_start():
        os.environ["SPEED_BUMP_START_AT"] = f"{os.getpid()}:{time.monotonic_ns()}"

    out = {"kernel tick (default)": [], "launcher-given start (SPEED_BUMP_START_AT)": []}
    for _ in range(runs):
        for name, preexec in (("kernel tick (default)", None),
                              ("launcher-given start (SPEED_BUMP_START_AT)", preexec_exact_start)):
            env = dict(clean_env(), SPEED_BUMP_TARGETS=bench.targets["f"],
                       SPEED_BUMP_DELAY_NS="200000", SPEED_BUMP_START_MS=str(start_ms),
                       SPEED_BUMP_DURATION_MS=str(duration_ms))
            saved = dict(os.environ)
            os.environ.clear()
            os.environ.update(env)
            try:
                launched = time.monotonic_ns()
                proc = subprocess.run([python, str(bench.workdir / "window.py")],
                                      capture_output=True, text=True, check=True,
                                      preexec_fn=preexec)
            finally:
                os.environ.clear()
                os.environ.update(saved)
            first, last = json.loads(proc.stdout)
            out[name].append(((first - launched) / 1e6 - start_ms,
                              (last - launched) / 1e6 - (start_ms + duration_ms)))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="processes per configuration")
    parser.add_argument("--startup-runs", type=int, default=40)
    parser.add_argument("--window-runs", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    parser.add_argument("--skip-calls", action="store_true",
                        help="only start-up and window edges (quick)")
    args = parser.parse_args()
    python = sys.executable
    try:
        import speedbump  # noqa: F401
    except ImportError:
        sys.exit("hook_bench.py: run it with the Python of a venv where scripts/setup.sh "
                 "installed speedbump (e.g. .venv/bin/python benches/hook_bench.py)")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bench = Bench(python, tmp)
        venvs = make_startup_venvs(tmp)
        venvs_other_pth = make_startup_venvs(tmp, other_pth=True)
        print(f"Python {sys.version.split()[0]}; {args.rounds} processes per configuration",
              file=sys.stderr)
        calls = {} if args.skip_calls else measure_calls(bench, args.rounds)
        in_process = (measure_in_process(bench, args.rounds)
                      if calls and sys.version_info < (3, 12) else [])
        startup = measure_startup(venvs, venvs_other_pth, bench, args.startup_runs)
        window = measure_window(python, bench, args.window_runs)

    if calls:
        print_calls(calls, args.rounds)
    if in_process:
        print(f"unmatched g, same process, speedbump's evaluation function vs CPython's default "
              f"(median of {len(in_process)} processes): {statistics.median(in_process):+.1f} ns")
    print_startup(startup, args.startup_runs)
    print_window(window, args.window_runs)
    if args.json:
        args.json.write_text(json.dumps({"calls": calls, "in_process": in_process,
                                            "startup": startup, "window": window}, indent=2))


def print_calls(calls, rounds):
    def med(name, which):
        return statistics.median(sample[which] for sample in calls[name])

    def added(name):  # f - g within each process, then the median over processes
        return statistics.median(f - g for f, g in calls[name])

    from speedbump import _speedbump
    print(f"\n### Per-call cost, Python {sys.version.split()[0]}, hook through "
          f"{_speedbump._mechanism()} (median of {rounds} processes)\n")
    print("f is the function a configuration targets; g is an identical twin, never "
          "matched, timed alternately in the same process.\n")
    print("| configuration | f ns/call | g ns/call | added (f - g) | requested | error |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, (config, _, _) in CONFIGS.items():
        requested = config.get("delay_ns")
        a = added(name)
        error = f"{(a - requested) / requested * 100:+.2f}%" if requested else ""
        req = f"{requested} ns" if requested else ""
        print(f"| {name} | {med(name, 0):.1f} | {med(name, 1):.1f} | {a:+.1f} ns | {req} "
              f"| {error} |")
    sb0, ref0 = added("speedbump: matched, delay 0"), added("reference: matched, delay 0")
    print(f"\nmatched at delay 0: speedbump {sb0:+.1f} ns, reference {ref0:+.1f} ns "
          f"(ratio {ref0 / sb0 if sb0 > 0 else float('inf'):.1f}x)")
    # Unmatched (after DISABLE on 3.12+) vs no hook: the same function g across processes.
    plain = med("no hook", 1)
    for name in ("speedbump: matched, delay 0", "speedbump: unmatched"):
        print(f"unmatched g in '{name}' processes vs 'no hook' processes: "
              f"{med(name, 1) - plain:+.1f} ns")
    print(f"matched f in 'speedbump: matched, delay 0' processes vs 'no hook' processes: "
          f"{med('speedbump: matched, delay 0', 0) - med('no hook', 0):+.1f} ns")
    print(f"A/A (f - g with no hook at all; the twin's bias): {added('no hook'):+.1f} ns")


def print_startup(startup, runs):
    print("\n### Interpreter start-up (`python -c pass`, median of "
          f"{runs} runs)\n")
    print("| case | ms | vs bare venv |")
    print("|---|---:|---:|")
    sm = {name: statistics.median(v) for name, v in startup.items()}
    reference = BARE
    for name, value in sm.items():
        if name == BARE_OTHER_PTH:
            reference = BARE_OTHER_PTH
            print("| *venvs that already hold another package's .pth (setuptools' "
                  "distutils-precedence.pth):* | | |")
        print(f"| {name} | {value:.2f} | {value - sm[reference]:+.2f} ms |")
    print("\n(Python 3.13 imports the utf-8-sig codec to read the first .pth file of an "
          "environment, ~0.4 ms here; environments with setuptools pay it already.)")



def print_window(window, runs):
    print(f"\n### Window edges (START_MS=500, DURATION_MS=500; median of {runs} "
          "runs; error vs the launch time measured by this script)\n")
    print("| process start from | delays start | delays stop |")
    print("|---|---:|---:|")
    for name, pairs in window.items():
        first = statistics.median(p[0] for p in pairs)
        last = statistics.median(p[1] for p in pairs)
        worst = max(max(abs(a), abs(b)) for a, b in pairs)
        print(f"| {name} | {first:+.1f} ms | {last:+.1f} ms (worst edge {worst:.1f} ms) |")


if __name__ == "__main__":
    main()
