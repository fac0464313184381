#!/usr/bin/env bash
# Prints the paths of CPython interpreters >= 3.10 (GIL builds) found on this
# machine, one per minor version: $SPEEDBUMP_PYTHON first when set, then the
# newest first (3.12+ use sys.monitoring; 3.10 and 3.11 a frame-evaluation
# function, see docs/python-versions.md).
# Looks at $SPEEDBUMP_PYTHON, the PATH, pyenv, /usr/local and /usr.
set -u

candidates() {
    [ -n "${SPEEDBUMP_PYTHON:-}" ] && echo "$SPEEDBUMP_PYTHON"
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    ls -d "$root"/versions/3.1[0-9]*/bin/python3.1[0-9] 2>/dev/null | sort -rV
    for minor in 15 14 13 12 11 10; do
        command -v "python3.$minor" 2>/dev/null
    done
    command -v python3 2>/dev/null
    ls -d /usr/local/bin/python3.1[0-9] /usr/bin/python3.1[0-9] 2>/dev/null
}

# "rank minor path" per usable interpreter (rank 0: SPEEDBUMP_PYTHON).
found=$(candidates | while read -r py; do
    [ -x "$py" ] || continue
    minor=$("$py" -c 'import sys, sysconfig
ok = sys.version_info >= (3, 10) and sys.implementation.name == "cpython" and not sysconfig.get_config_var("Py_GIL_DISABLED")
print(sys.version_info[1] if ok else "")' 2>/dev/null) || continue
    [ -n "$minor" ] || continue
    if [ -n "${SPEEDBUMP_PYTHON:-}" ] && [ "$py" = "$SPEEDBUMP_PYTHON" ]; then
        echo "0 $minor $py"
    else
        echo "1 $minor $py"
    fi
done)

# One interpreter per minor version, the first found of each; best first.
printf '%s\n' "$found" | awk 'NF == 3 && !seen[$2]++' | sort -s -k1,1n -k2,2nr | cut -d' ' -f3-
