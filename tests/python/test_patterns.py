"""Which functions the patterns of a target file select."""

from conftest import function

PACKAGE = {
    "pkg/__init__.py": "def top(): pass\n",
    "pkg/worker/__init__.py": "",
    "pkg/worker/runner.py": """
        class Runner:
            def execute(self): pass
            def _helper(self): pass
        def start(): pass
    """,
    "pkg/other.py": "def matmul_impl(): pass\ndef add(): pass\n",
}

CALLS = """
import pkg, pkg.other
from pkg.worker import runner
pkg.top()
r = runner.Runner()
r.execute(); r._helper(); runner.start()
pkg.other.matmul_impl(); pkg.other.add()
def local(): pass
local()
"""


def matched(run_py, patterns):
    r = run_py(CALLS, patterns=patterns, files=PACKAGE, env={"SPEED_BUMP_DELAY_NS": "0"})
    assert r.returncode == 0, r.stderr
    return {f["name"] for f in r.report["functions"] if f["calls"]}


def test_module_and_qualname_globs(run_py):
    assert matched(run_py, "pkg.worker.runner:Runner.execute") == {"pkg.worker.runner:Runner.execute"}
    assert matched(run_py, "pkg.worker.runner:Runner.*") == {
        "pkg.worker.runner:Runner.execute", "pkg.worker.runner:Runner._helper"}
    assert matched(run_py, "*:*matmul*") == {"pkg.other:matmul_impl"}
    assert matched(run_py, "pkg.othe?:[a-b]*") == {"pkg.other:add"}


def test_trailing_dot_star_also_matches_the_package_itself(run_py):
    names = matched(run_py, "pkg.*:*\n!*:<module>\n")
    assert "pkg:top" in names
    assert "pkg.worker.runner:start" in names
    assert "__main__:local" not in names


def test_main_module(run_py):
    assert matched(run_py, "__main__:local") == {"__main__:local"}


def test_path_globs_match_the_file(run_py):
    names = matched(run_py, "*/pkg/worker/*:*\n!*:<module>\n")
    # The class body is a code object of its own, run once.
    assert names == {"pkg.worker.runner:Runner", "pkg.worker.runner:Runner.execute",
                     "pkg.worker.runner:Runner._helper", "pkg.worker.runner:start"}


def test_excludes_win_whatever_their_position(run_py):
    names = matched(run_py, "!pkg.worker.*:*\npkg.*:*\n!*:<module>\n# a comment\n\n")
    assert names == {"pkg:top", "pkg.other:matmul_impl", "pkg.other:add"}


def test_per_pattern_counts(run_py):
    r = run_py(CALLS, patterns="pkg.worker.*:*\npkg.other:*\n!*:<module>\n", files=PACKAGE,
               env={"SPEED_BUMP_DELAY_NS": "1us"})
    patterns = {p["pattern"]: p for p in r.report["patterns"]}
    assert patterns["pkg.worker.*:*"]["calls"] == 4  # with the class body
    assert patterns["pkg.worker.*:*"]["functions_matched"] == 4
    assert patterns["pkg.other:*"]["calls"] == 2
    assert patterns["pkg.other:*"]["delayed_calls"] == 2
    assert patterns["*:<module>"]["exclude"] is True
    assert function(r.report, "pkg.other:add")["pattern"] == "pkg.other:*"


def test_module_glob_without_dot_star_warns_and_suggests_a_fix(run_py):
    # docs/methodology.md's `vllm.worker:*` case: the module itself holds no code
    # but its import; the functions live in its submodules.
    r = run_py(CALLS, patterns="pkg.worker:*\n", files=PACKAGE)
    assert r.returncode == 0
    warnings = [l for l in r.speedbump_lines() if "warning" in l]
    assert warnings == [
        "speedbump: warning: 'pkg.worker:*' matched only module-level code, which runs once at "
        "import; 'pkg.worker.*:*' would match 4 functions"], r.stderr
    assert r.report["warnings"] == [warnings[0].removeprefix("speedbump: warning: ")]


def test_pattern_that_matches_nothing(run_py):
    r = run_py(CALLS, patterns="pkg.other:*\nnumpy.*:*\npkg.Other:add\n", files=PACKAGE)
    warnings = [l.removeprefix("speedbump: warning: ") for l in r.speedbump_lines()
                if "warning" in l]
    assert warnings[0] == "'numpy.*:*' matched nothing; no similar name was seen; check the " \
        "module name (the summary of a run with '*:*' lists what runs)"
    assert warnings[1].startswith("'pkg.Other:add' matched nothing; 'pkg.other:add' would match 1")
    assert len(warnings) == 2


def test_patterns_past_the_pattern_table_are_judged_by_what_they_matched(run_py):
    # 1,100 patterns: more than the segment's 1,024 pattern slots, so the last
    # ones share the <other> per-pattern row. The function the last pattern
    # matched was called and must not be called "matched nothing"; the
    # patterns that matched nothing are named up to 20 times, then counted.
    unused = "".join(f"mod{i}.sub:func_{i}\n" for i in range(1100))
    r = run_py("def f():\n    pass\nf()\nf()\n", patterns=unused + "__main__:f\n")
    assert r.returncode == 0, r.stderr
    assert [f["calls"] for f in r.report["functions"] if f["name"] == "__main__:f"] == [2]
    warnings = [l.removeprefix("speedbump: warning: ") for l in r.speedbump_lines()
                if "warning" in l]
    assert not any("'__main__:f'" in w for w in warnings), warnings
    named = [w for w in warnings if w.startswith("'mod") and "matched nothing" in w]
    assert len(named) == 20, warnings
    assert any(w.startswith("1080 more patterns matched nothing") for w in warnings), warnings
    assert any("pattern table is full" in w and "counted by name" in w for w in warnings), warnings
    assert len(warnings) <= 25, warnings


def test_nothing_matched_at_all(run_py):
    r = run_py(CALLS, patterns="nothing.here:*\n", files=PACKAGE)
    warnings = [l for l in r.speedbump_lines() if "warning" in l]
    assert warnings[0].startswith("speedbump: warning: no function matched the patterns in ")
    assert "targets.txt" in warnings[0]


def test_qualified_names_are_the_same_on_every_python(run_py):
    # 3.10 has no co_qualname: names come from where code objects sit.
    source = """
    import functools

    class Model:
        def forward(self):
            return self.inner()

        def inner(self):
            def helper():
                return 1
            return helper()

        class Nested:
            @staticmethod
            def go():
                return [x for x in range(3)]

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*a):
            return fn(*a)
        return wrapper

    @deco
    def decorated():
        return 2

    m = Model()
    for _ in range(3):
        m.forward()
        Model.Nested.go()
        decorated()
    """
    r = run_py(source, patterns="__main__:*")
    assert r.returncode == 0, r.stderr
    names = {f["name"]: f["calls"] for f in r.report["functions"]}
    assert names["__main__:Model.forward"] == 3
    assert names["__main__:Model.inner"] == 3
    assert names["__main__:Model.inner.<locals>.helper"] == 3
    assert names["__main__:Model.Nested.go"] == 3
    assert names["__main__:deco.<locals>.wrapper"] == 3
    assert names["__main__:decorated"] == 3
    # List comprehensions are inlined on 3.12 (PEP 709): never matched.
    assert not any("<listcomp>" in name for name in names)
