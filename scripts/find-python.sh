#!/usr/bin/env bash
# Prints the paths of CPython interpreters >= 3.12 (GIL builds) found on this
# machine, best first, one per line, one per minor version.
# Looks at $SPEEDBUMP_PYTHON, the PATH, pyenv, /usr/local and /usr.
set -u

candidates() {
    [ -n "${SPEEDBUMP_PYTHON:-}" ] && echo "$SPEEDBUMP_PYTHON"
    for minor in 13 12 14 15; do
        command -v "python3.$minor" 2>/dev/null
    done
    command -v python3 2>/dev/null
    local root="${PYENV_ROOT:-$HOME/.pyenv}"
    ls -d "$root"/versions/3.1[2-9]*/bin/python3.1[2-9] 2>/dev/null | sort -rV
    ls -d /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9] 2>/dev/null
}

candidates | while read -r py; do
    [ -x "$py" ] || continue
    version=$("$py" -c 'import sys, sysconfig
ok = sys.version_info >= (3, 12) and sys.implementation.name == "cpython" and not sysconfig.get_config_var("Py_GIL_DISABLED")
print(f"{sys.version_info[0]}.{sys.version_info[1]}" if ok else "")' 2>/dev/null) || continue
    [ -n "$version" ] || continue
    # one interpreter per minor version (a subshell: track through a file)
    if ! grep -qx "$version" "${TMPDIR:-/tmp}/.speedbump-find-python.$$" 2>/dev/null; then
        echo "$version" >> "${TMPDIR:-/tmp}/.speedbump-find-python.$$"
        echo "$py"
    fi
done
rm -f "${TMPDIR:-/tmp}/.speedbump-find-python.$$"
