"""Shared helpers: every test runs a real Python subprocess with the
SPEED_BUMP_* variables, as users do. The interpreter under test is
$SPEEDBUMP_PYTHON (a venv where scripts/setup.sh installed speedbump)."""

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

PYTHON = os.path.abspath(os.environ.get("SPEEDBUMP_PYTHON", sys.executable))

# (major, minor) of the interpreter under test: 3.12+ see calls through
# sys.monitoring, 3.10/3.11 through a frame-evaluation function.
PYTHON_VERSION = tuple(json.loads(subprocess.run(
    [PYTHON, "-c", "import json, sys; print(json.dumps(sys.version_info[:2]))"],
    capture_output=True, text=True, check=True).stdout))

needs_sys_monitoring = pytest.mark.skipif(
    PYTHON_VERSION < (3, 12),
    reason="C function calls are seen through sys.monitoring (3.12+) only; "
           "3.10/3.11 cannot see them (docs/python-versions.md)")


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    report: dict | None

    def speedbump_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("speedbump:")]


@pytest.fixture
def runtime_dir(tmp_path):
    """A private XDG_RUNTIME_DIR, so tests can check what is left behind."""
    d = tmp_path / "runtime"
    d.mkdir(mode=0o700)
    return d


@pytest.fixture
def run_py(tmp_path, runtime_dir):
    """run_py(source, patterns=..., env=..., args=...) -> Run.

    Writes `source` to main.py in a fresh directory, `patterns` to
    targets.txt, runs it under the hook and returns its output and, unless
    report=False, the JSON report.
    """

    def run(source, patterns="*:*", env=None, args=(), report=True, timeout=120,
            files=None, python_args=()):
        work = tmp_path / "work"
        work.mkdir(exist_ok=True)
        (work / "main.py").write_text(textwrap.dedent(source))
        for name, text in (files or {}).items():
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SPEED_BUMP_")}
        full_env["XDG_RUNTIME_DIR"] = str(runtime_dir)
        full_env["PYTHONDONTWRITEBYTECODE"] = "1"
        if patterns is not None:
            (work / "targets.txt").write_text(patterns)
            full_env["SPEED_BUMP_TARGETS"] = "targets.txt"
        report_path = work / "report.json"
        if report and patterns is not None:
            full_env["SPEED_BUMP_REPORT"] = str(report_path)
        full_env.update(env or {})
        proc = subprocess.run(
            [PYTHON, *python_args, "main.py", *args], cwd=work, env=full_env,
            capture_output=True, text=True, timeout=timeout,
        )
        data = json.loads(report_path.read_text()) if report_path.exists() else None
        if report_path.exists():
            report_path.unlink()
        return Run(proc.returncode, proc.stdout, proc.stderr, data)

    return run


def function(report, name):
    """The report's entry for function `name` (module:qualname)."""
    for f in report["functions"]:
        if f["name"] == name:
            return f
    names = [f["name"] for f in report["functions"]]
    raise AssertionError(f"{name} not in report functions {names}")


def leftover_files(runtime_dir: Path) -> list[str]:
    return sorted(str(p.relative_to(runtime_dir)) for p in runtime_dir.rglob("*"))
