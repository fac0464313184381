#!/usr/bin/env bash
# Sets up speedbump in a Python virtual environment: builds the `speedbump`
# command and the hook (a CPython extension plus speedbump.pth), packs both
# into one wheel and installs it.
#
#   scripts/setup.sh                       # finds Python >= 3.10 itself, venv .venv
#   scripts/setup.sh --python python3.13 --venv .venv-3.13
#   scripts/setup.sh --into /path/to/existing/venv/bin/python   # install into your env
#
# Afterwards: source .venv/bin/activate; speedbump --help
set -euo pipefail
cd "$(dirname "$0")/.."

python=""
venv=".venv"
into=""
while [ $# -gt 0 ]; do
    case "$1" in
        --python) python="$2"; shift 2 ;;
        --venv) venv="$2"; shift 2 ;;
        --into) into="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ -z "$python" ] && [ -z "$into" ]; then
    python=$(scripts/find-python.sh | head -n 1)
    if [ -z "$python" ]; then
        echo "setup.sh: no CPython >= 3.10 found (looked on PATH, in pyenv, /usr/local, /usr)." >&2
        echo "Install one, or pass --python /path/to/python3.12" >&2
        exit 2
    fi
fi

if [ -n "$into" ]; then
    target_python="$into"
else
    if [ ! -x "$venv/bin/python" ]; then
        echo "setup.sh: creating $venv with $python"
        "$python" -m venv "$venv"
    fi
    target_python="$venv/bin/python"
fi
"$target_python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || {
    echo "setup.sh: $target_python is older than 3.10; speedbump supports CPython 3.10 and later" >&2
    exit 2
}
py_tag=$("$target_python" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')

log=$(mktemp)
trap 'rm -f "$log"' EXIT
quietly() {  # runs a build step, showing its output only when it fails
    if ! "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "setup.sh: failed: $*" >&2
        exit 1
    fi
}

echo "setup.sh: building the speedbump command"
quietly cargo build --release --locked --bin speedbump
mkdir -p target/wheel-data/scripts
cp target/release/speedbump target/wheel-data/scripts/speedbump

echo "setup.sh: building the hook for $("$target_python" --version)"
quietly "$target_python" -m pip install --disable-pip-version-check "maturin>=1.9.4,<2"
# A folder of its own: several set-ups may run at once (one per Python).
mkdir -p target/wheels
wheels=$(mktemp -d "target/wheels/$py_tag.XXXXXX")
trap 'rm -f "$log"; rm -rf "$wheels"' EXIT
# One cargo target folder per Python version: the hook is built against
# that version's API (3.10/3.11 and 3.12+ see calls differently), and a
# shared folder would rebuild PyO3 at every switch of version.
quietly env PYO3_PYTHON="$target_python" CARGO_TARGET_DIR="target/hook-$py_tag" \
    "$target_python" -m maturin build --release --locked \
    --interpreter "$target_python" --out "$wheels"
wheel=$(ls "$wheels"/speedbump-*.whl | head -n 1)
quietly "$target_python" -m pip install --disable-pip-version-check --force-reinstall --no-deps "$wheel"
echo "setup.sh: installed $(basename "$wheel") into $("$target_python" -c 'import sys; print(sys.prefix)')"
