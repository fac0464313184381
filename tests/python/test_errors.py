"""Bad configuration stops the program before its code runs, with exit
status 2 and one line that says what to fix."""

import pytest

PROGRAM = "print('the program ran')\n"


def assert_refused(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "the program ran" not in r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("speedbump: "), lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("variable,value,needle", [
    ("SPEED_BUMP_DELAY_NS", "fast", "SPEED_BUMP_DELAY_NS"),
    ("SPEED_BUMP_DELAY_NS", "-5", "SPEED_BUMP_DELAY_NS"),
    ("SPEED_BUMP_DELAY_NS", "10 parsecs", "SPEED_BUMP_DELAY_NS"),
    ("SPEED_BUMP_FREQUENCY", "0", "SPEED_BUMP_FREQUENCY"),
    ("SPEED_BUMP_FREQUENCY", "often", "SPEED_BUMP_FREQUENCY"),
    ("SPEED_BUMP_START_MS", "soon", "SPEED_BUMP_START_MS"),
    ("SPEED_BUMP_DURATION_MS", "-1", "SPEED_BUMP_DURATION_MS"),
    ("SPEED_BUMP_RESUME", "maybe", "SPEED_BUMP_RESUME"),
])
def test_bad_values_name_the_variable(run_py, variable, value, needle):
    assert_refused(run_py(PROGRAM, env={variable: value}), needle)


def test_misspelt_variable(run_py):
    r = run_py(PROGRAM, env={"SPEED_BUMP_DELAY": "10000"})
    assert_refused(r, "SPEED_BUMP_DELAY", "did you mean SPEED_BUMP_DELAY_NS?")


def test_missing_target_file(run_py):
    r = run_py(PROGRAM, env={"SPEED_BUMP_TARGETS": "/nonexistent/targets.txt"})
    assert_refused(r, "SPEED_BUMP_TARGETS=/nonexistent/targets.txt: cannot read")


def test_pattern_error_names_file_line_and_column(run_py):
    r = run_py(PROGRAM, patterns="# ok\nnumpy.*:*\nvllm.worker\n")
    assert_refused(r, "targets.txt:3:")


def test_file_without_include_pattern(run_py):
    r = run_py(PROGRAM, patterns="# nothing here\n\n")
    assert_refused(r, "no include pattern")


def test_a_crashing_program_keeps_its_exit_status_and_traceback(run_py):
    r = run_py("def f(): raise SystemExit(7)\nf()\n", patterns="__main__:f")
    assert r.returncode == 7
    r = run_py("def f(): 1/0\nf()\n", patterns="__main__:f")
    assert r.returncode == 1
    assert "ZeroDivisionError" in r.stderr
    # The summary still comes, after the traceback.
    assert r.stderr.strip().splitlines()[-1].startswith("speedbump: 1 function matched")
