#!/usr/bin/env bash
# Runs every fuzz target in turn for 10 million executions or MINUTES
# (default 15), whichever comes first, JOBS at a time (default 1), on a
# scratch copy of its seed corpus, and prints each
# target's last libFuzzer status line (executions, coverage, corpus).
# Crashes are written to fuzz/artifacts/<target>/; reproduce one with
#   cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>
# and, once fixed, keep the input as a regression case in
# fuzz/regressions/<target>/ (cargo test replays it from then on).
#
#   fuzz/run-all.sh [MINUTES] [JOBS]
set -euo pipefail
minutes=${1:-15}
jobs=${2:-1}
cd "$(dirname "$0")"
cargo +nightly fuzz build
targets=$(cargo +nightly fuzz list)
scratch=${FUZZ_SCRATCH:-$(mktemp -d)}
run() {
    local target=$1
    mkdir -p "$scratch/$target"
    cp -r corpus/"$target"/. "$scratch/$target"/ 2>/dev/null || true
    cargo +nightly fuzz run "$target" "$scratch/$target" -- \
        -runs=10000000 -max_total_time=$((minutes * 60)) -print_final_stats=1 \
        >"$scratch/$target.log" 2>&1 || echo "$target: FAILED (see $scratch/$target.log)"
    echo "$target: $(grep -E '^#[0-9]+' "$scratch/$target.log" | tail -1)"
}
running=0
for target in $targets; do
    run "$target" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
echo "logs and grown corpora: $scratch"
