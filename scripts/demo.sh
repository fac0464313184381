#!/usr/bin/env bash
# The main job on a reference workload, set-up included: a simulated GPU
# pipeline (examples/pipeline.py: Python dispatch feeding a device process)
# through docs/methodology.md's steps.
#
#   scripts/demo.sh            # about a minute after the build
#
# Step 1 first as the methodology writes it (environment variables), then
# automated: `speedbump sweep` (steps 1-2), `speedbump rank` (steps 3-4) and
# `speedbump report` (step 5), which writes demo-report/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
bin=.venv/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo '*:*' > "$work/all.txt"
# Exit status 1 means "finished, some setting too noisy to conclude" (the
# verdicts say what to do): part of a demo on a shared machine, not a failure.
step() {
    local rc=0
    "$@" || rc=$?
    if [ "$rc" -gt 1 ]; then exit "$rc"; fi
}

echo
echo "== Step 1 by hand: every Python function of examples/cpu_loop.py slowed"
for delay in 0 1000 10000 100000; do
    items=$(( delay >= 100000 ? 2000 : delay >= 10000 ? 20000 : 100000 ))
    printf 'SPEED_BUMP_DELAY_NS=%-7s ' "$delay"
    SPEED_BUMP_TARGETS="$work/all.txt" SPEED_BUMP_DELAY_NS=$delay SPEED_BUMP_QUIET=1 \
        "$bin/python" examples/cpu_loop.py --items "$items"
done

pipeline=("$bin/python" examples/pipeline.py --regime python-bound --seconds 3600)
echo
echo "== Steps 1-2: speedbump sweep on the python-bound pipeline"
step "$bin/speedbump" sweep --pattern '__main__:*' --delays 10us,30us,100us --predict 5us,20us \
    --precision 10% --budget 60s --out "$work/results.json" -- "${pipeline[@]}"
echo
echo "== Steps 3-4: which function? speedbump rank"
step "$bin/speedbump" rank --under __main__ --delay 100us --precision 5% --budget 60s \
    --out "$work/results.json" -- "${pipeline[@]}"
echo
echo "== Step 5: speedbump report"
"$bin/speedbump" report "$work/results.json" --format md --out demo-report
echo "demo-report/report.md written; open it, or try the wizard: $bin/speedbump tui examples/pipeline.py -- --regime python-bound --seconds 3600"
