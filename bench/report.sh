#!/usr/bin/env bash
# The release report's cost against the demo's cold build, runs
# interleaved so a slow moment of the machine hits both sides:
# - the demo as shipped, cold (its `qc` deliverable makes the report);
# - a copy without `qc`, cold, then `bounce report` over that build's cache
#   (every delivered file inspected, every codec comparison made).
#
#   bench/report.sh [WORKDIR] [RUNS]
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d -t bounce-report.XXXXXX)}"
runs="${2:-3}"
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
bounce="$repo/target/release/bounce"

# Runs a command; prints its wall time in seconds, to the millisecond.
seconds() {
    local start end
    start=$(date +%s%N)
    "$@" > /dev/null 2> "$work/stderr.txt" || { cat "$work/stderr.txt" >&2; exit 1; }
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }'
}

rm -rf "$work/shipped" "$work/plain"
cp -r "$repo/projects/demo" "$work/shipped"
cp -r "$repo/projects/demo" "$work/plain"
# The copy without the report: the `qc` deliverable's block removed.
awk '/^deliverable "qc"/ { skip = 1 } !skip { print } skip && /^}/ { skip = 0 }' \
    "$repo/projects/demo/bounce.kdl" > "$work/plain/bounce.kdl"
if grep -v '^ *//' "$work/plain/bounce.kdl" | grep -q report; then
    echo "the copy still makes a report" >&2
    exit 1
fi

echo "| run | demo cold (with qc) | cold without qc | bounce report | report / cold with qc | report / cold without qc |"
echo "| --- | --- | --- | --- | --- | --- |"
for run in $(seq 1 "$runs"); do
    cd "$work/shipped" && rm -rf .bounce out
    shipped=$(seconds "$bounce" build -f bounce.kdl)
    cd "$work/plain" && rm -rf .bounce out
    plain=$(seconds "$bounce" build -f bounce.kdl)
    report=$(seconds "$bounce" report -f bounce.kdl)
    grep -q "inspected now" "$work/stderr.txt" || { echo "no report made" >&2; exit 1; }
    awk -v r="$run" -v s="$shipped" -v p="$plain" -v q="$report" \
        'BEGIN { printf "| %d | %.3f s | %.3f s | %.3f s | %.3f | %.3f |\n", r, s, p, q, q / s, q / p }'
done
