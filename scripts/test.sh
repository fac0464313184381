#!/usr/bin/env bash
# Sets up and runs every test: the Rust crates (cargo test) and the hook's
# behaviour in real Python processes (pytest), on every CPython >= 3.10
# found on this machine (scripts/find-python.sh), each in its own venv.
#
#   scripts/test.sh              # everything
#   scripts/test.sh -k window    # extra arguments go to pytest
set -euo pipefail
cd "$(dirname "$0")/.."

pythons=$(scripts/find-python.sh)
if [ -z "$pythons" ]; then
    echo "test.sh: no CPython >= 3.10 found; install one or set SPEEDBUMP_PYTHON" >&2
    exit 2
fi

echo "== cargo fmt --check"
cargo fmt --all --check

echo "== cargo test (speedbump)"
cargo test --locked --quiet

# The end-to-end runs of the experiment engine and the TUI exercise Rust
# code through the hook; they run on the first Python only (the hook's own
# behaviour is tested on every Python), which keeps CI well under budget.
engine_e2e=(tests/python/test_experiments.py tests/python/test_tui.py tests/python/test_rank.py)
first=1
for py in $pythons; do
    version=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    venv=".venv-$version"
    echo "== Python $version ($py)"
    scripts/setup.sh --python "$py" --venv "$venv"
    if [ "$first" = 1 ]; then
        echo "== cargo clippy -D warnings (workspace, hook for Python $version)"
        PYO3_PYTHON="$py" cargo clippy --workspace --all-targets --locked --quiet -- -D warnings
        echo "== cargo test (speedbump-hook, Python $version)"
        PYO3_PYTHON="$py" cargo test --locked --quiet -p speedbump-hook
    else
        # The hook's code differs by Python version (cfg(Py_3_12) and the
        # like): lint what this version compiles too.
        echo "== cargo clippy -D warnings (speedbump-hook, Python $version)"
        PYO3_PYTHON="$py" cargo clippy -p speedbump-hook --all-targets --locked --quiet -- -D warnings
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pytest>=8,<10"
    echo "== pytest (Python $version)"
    skip=()
    if [ "$first" = 0 ]; then
        for f in "${engine_e2e[@]}"; do skip+=(--ignore="$f"); done
    fi
    SPEEDBUMP_PYTHON="$PWD/$venv/bin/python" PATH="$PWD/$venv/bin:$PATH" \
        "$venv/bin/python" -m pytest tests/python -q -p no:cacheprovider "${skip[@]}" "$@"
    first=0
done
echo "test.sh: all tests passed"
