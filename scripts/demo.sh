#!/usr/bin/env bash
# The main job, on a reference workload: METHODOLOGY.md step 1 (does Python
# limit throughput?) with the environment-variable interface, exactly as a
# user would run it. Sets speedbump up first (scripts/setup.sh).
#
#   scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
python=.venv/bin/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo '*:*' > "$work/all.txt"

echo
echo "== Step 1: slow every Python function of examples/cpu_loop.py"
for delay in 0 1000 10000 100000; do
    items=$(( delay >= 100000 ? 2000 : delay >= 10000 ? 20000 : 100000 ))
    printf 'SPEED_BUMP_DELAY_NS=%-7s ' "$delay"
    SPEED_BUMP_TARGETS="$work/all.txt" SPEED_BUMP_DELAY_NS=$delay \
        "$python" examples/cpu_loop.py --items "$items" 2>&1 | tr '\n' ' '
    echo
done
echo
echo "Throughput falls as the delay grows: Python is this program's bottleneck."
