"""`speedbump tui` end to end on the reference pipeline, in a real
pseudo-terminal, with the real experiment engine and hook.

The test itself is Rust (tests/tui_pty.rs, `real_engine_reference_pipeline_end_to_end`:
a pty, a vt100 parser, keys through steps 1-5): it needs a Python with
speedbump installed, which exists only after scripts/setup.sh, so cargo test
skips it and this runs it with $SPEEDBUMP_PYTHON. It drives the wizard
from `*:*` down to `__main__:prepare_inputs` (the pipeline's known critical
function) with the keyboard only, exports the report, checks that the report
names that function first, quits, and checks that the terminal was restored
and that no workload process is left.
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON

ROOT = Path(__file__).resolve().parents[2]


def run_pty_test(name):
    """Runs the ignored test `name` of tests/tui_pty.rs with $SPEEDBUMP_PYTHON
    (colours on, as a user's terminal has them) and checks that it passed."""
    env = dict(os.environ, SPEEDBUMP_PYTHON=PYTHON)
    env.pop("NO_COLOR", None)
    result = subprocess.run(
        ["cargo", "test", "--locked", "--quiet", "--test", "tui_pty", name,
         "--", "--ignored", "--exact"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "1 passed" in result.stdout, output


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_tui_reaches_the_critical_function_of_the_reference_pipeline():
    run_pty_test("real_engine_reference_pipeline_end_to_end")


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_tui_leaves_a_process_pool_unslowed_after_two_sweeps():
    """tests/tui_pty.rs `real_engine_two_sweeps_leave_a_process_pool_unslowed`:
    a three-process service at 100×30, two sweeps in a row; after each, step
    0's `*:*` row shows 0 slowed calls/s."""
    run_pty_test("real_engine_two_sweeps_leave_a_process_pool_unslowed")


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_tui_progress_point_chosen_at_step_0_without_a_restart():
    """tests/tui_pty.rs `real_engine_progress_point_chosen_at_step_0_without_a_restart`."""
    run_pty_test("real_engine_progress_point_chosen_at_step_0_without_a_restart")


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_tui_output_regex_chosen_at_step_0_without_a_restart():
    """tests/tui_pty.rs `real_engine_output_regex_chosen_at_step_0_without_a_restart`."""
    run_pty_test("real_engine_output_regex_chosen_at_step_0_without_a_restart")


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs cargo")
def test_tui_census_needs_no_progress_source():
    """tests/tui_pty.rs `real_engine_census_needs_no_progress_source`."""
    run_pty_test("real_engine_census_needs_no_progress_source")
