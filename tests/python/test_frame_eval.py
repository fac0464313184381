"""Python 3.10/3.11: speedbump sees calls through a PEP 523 frame-evaluation
function, which other tools (TorchDynamo, debuggers) also install. A second
user, built here as a tiny C extension, checks that each chains to the
other and that a replacement that drops us is reported at exit."""

import subprocess
import sysconfig
import textwrap

import pytest

from conftest import PYTHON, PYTHON_VERSION, function

pytestmark = pytest.mark.skipif(
    PYTHON_VERSION >= (3, 12),
    reason="3.12+ sees calls through sys.monitoring, not a frame-evaluation function")

OTHER_EVAL = r"""
#include <Python.h>
#if PY_VERSION_HEX >= 0x030B0000
typedef struct _PyInterpreterFrame Frame;
#else
typedef PyFrameObject Frame;
#endif

static _PyFrameEvalFunction previous = NULL;
static unsigned long long frames = 0;
static int chain = 1;

static PyObject *other_eval(PyThreadState *tstate, Frame *frame, int throwflag) {
    frames++;
    if (chain && previous != NULL)
        return previous(tstate, frame, throwflag);
    return _PyEval_EvalFrameDefault(tstate, frame, throwflag);
}

/* install(chain): put other_eval in front; it calls the previous function
   when chain is true, CPython's own (dropping the previous one) otherwise. */
static PyObject *install(PyObject *self, PyObject *arg) {
    chain = PyObject_IsTrue(arg);
    PyInterpreterState *interp = PyInterpreterState_Get();
    previous = _PyInterpreterState_GetEvalFrameFunc(interp);
    _PyInterpreterState_SetEvalFrameFunc(interp, other_eval);
    Py_RETURN_NONE;
}

static PyObject *count(PyObject *self, PyObject *unused) {
    return PyLong_FromUnsignedLongLong(frames);
}

static PyMethodDef methods[] = {
    {"install", install, METH_O, NULL},
    {"count", count, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "other_eval", NULL, -1, methods};

PyMODINIT_FUNC PyInit_other_eval(void) { return PyModule_Create(&module); }
"""


@pytest.fixture(scope="module")
def other_eval_dir(tmp_path_factory):
    """A directory holding the compiled `other_eval` module for PYTHON."""
    out = tmp_path_factory.mktemp("other_eval")
    (out / "other_eval.c").write_text(OTHER_EVAL)
    info = subprocess.run(
        [PYTHON, "-c", "import sysconfig; print(sysconfig.get_paths()['include']); "
                       "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
        capture_output=True, text=True, check=True).stdout.split()
    include, suffix = info[0], info[1]
    cc = sysconfig.get_config_var("CC") or "cc"
    subprocess.run([cc.split()[0], "-shared", "-fPIC", "-O1", f"-I{include}",
                    str(out / "other_eval.c"), "-o", str(out / f"other_eval{suffix}")],
                   check=True)
    return out


LOOP = """
def f():
    pass

def calls(n):
    for _ in range(n):
        f()
"""


def test_chains_to_an_evaluation_function_installed_before_it(run_py, other_eval_dir):
    # The hook activates after the other tool installed its function.
    source = LOOP + textwrap.dedent("""
    import os, other_eval
    other_eval.install(True)
    os.environ["SPEED_BUMP_TARGETS"] = "targets.txt"
    os.environ["SPEED_BUMP_REPORT"] = os.path.abspath("report.json")
    import speedbump._boot
    import speedbump
    assert speedbump.is_active()
    before = other_eval.count()
    calls(1000)
    print(other_eval.count() - before)
    """)
    r = run_py(source, patterns=None, files={"targets.txt": "__main__:f\n"},
               env={"PYTHONPATH": str(other_eval_dir)})
    assert r.returncode == 0, r.stderr
    assert function(r.report, "__main__:f")["calls"] == 1000
    assert int(r.stdout) >= 1001  # the other tool still sees every frame
    assert "replaced" not in r.stderr


def test_a_function_installed_after_it_that_chains_keeps_it_working(run_py, other_eval_dir):
    source = LOOP + textwrap.dedent("""
    import other_eval
    calls(10)
    other_eval.install(True)
    calls(1000)
    print(other_eval.count())
    """)
    r = run_py(source, patterns="__main__:f",
               env={"PYTHONPATH": str(other_eval_dir)})
    assert r.returncode == 0, r.stderr
    assert function(r.report, "__main__:f")["calls"] == 1010
    assert int(r.stdout) >= 1001
    assert "replaced" not in r.stderr


def test_a_replacement_that_drops_it_is_reported_at_exit(run_py, other_eval_dir):
    source = LOOP + textwrap.dedent("""
    import other_eval
    calls(10)
    other_eval.install(False)
    calls(1000)
    """)
    r = run_py(source, patterns="__main__:f",
               env={"PYTHONPATH": str(other_eval_dir)})
    assert r.returncode == 0, r.stderr
    # Only the calls before the replacement were seen, and the user is told.
    assert function(r.report, "__main__:f")["calls"] == 10
    warnings = [line for line in r.speedbump_lines() if "replaced" in line]
    assert len(warnings) == 1, r.stderr
    assert "frame-evaluation function" in warnings[0]


def test_code_words_are_read_directly_and_count_exactly(run_py):
    # The fast lookup reads co_extra at this version's offset; install checks
    # it against CPython's accessor and falls back when it differs, which
    # `_mechanism()` says. Counts must be exact either way, for code objects
    # made every way: defs, lambdas, closures, methods, exec'd code, and a
    # generator's resumes (not counted without SPEED_BUMP_RESUME).
    source = textwrap.dedent("""
    from speedbump import _speedbump
    print(_speedbump._mechanism())
    def f():
        pass
    def outer():
        def inner():
            pass
        return inner
    class C:
        def m(self):
            pass
    g = lambda: None
    ns = {}
    exec("def made():\\n    pass\\n", ns)
    def gen():
        yield 1
        yield 2
    for _ in range(300):
        f(); outer()(); C().m(); g(); ns["made"]()
        list(gen())
    """)
    r = run_py(source, patterns="__main__:f\n__main__:outer.<locals>.inner\n__main__:C.m\n"
               "__main__:<lambda>\n*:made\n__main__:gen\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "a PEP 523 frame-evaluation function", r.stdout
    for name in ("__main__:f", "__main__:outer.<locals>.inner", "__main__:C.m",
                 "__main__:<lambda>", "__main__:gen"):
        assert function(r.report, name)["calls"] == 300, name
    made = [f for f in r.report["functions"] if f["name"].endswith(":made")]
    assert [f["calls"] for f in made] == [300], made
