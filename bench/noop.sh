#!/usr/bin/env bash
# No-op build time against the number of steps: generated projects of 10,
# 100 and 1000 tracks (two tone stems each, a mix, a master, a 16-bit WAV
# and its tags: 8 steps a track, plus one), each built once and then timed
# doing nothing, best of 5; beside ninja doing nothing over a build file
# with as many edges, in the same run.
#
#   bench/noop.sh [WORKDIR]      needs ninja
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d -t bounce-noop.XXXXXX)}"
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
bounce="$repo/target/release/bounce"

best_of_5() { # command…; prints the best wall time in ms
    local best=""
    for _ in 1 2 3 4 5; do
        local start end ms
        start=$(date +%s%N)
        "$@" > /dev/null 2>&1
        end=$(date +%s%N)
        ms=$(( (end - start) / 1000000 ))
        if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
    done
    echo "$best"
}

project() { # dir tracks
    local dir=$1 tracks=$2
    mkdir -p "$dir"
    {
        echo 'release "No-op" { version "1"; sample-rate 44100; }'
        echo 'master "flat" { }'
        for t in $(seq 1 "$tracks"); do
            echo "track $t \"T$t\" { tone \"a\" freq=440 level=-20 length=1; tone \"b\" freq=660 level=-20 length=1; }"
        done
        echo 'deliverable "wav" { master "flat"; format "wav" bits=16; }'
    } > "$dir/bounce.kdl"
}

ninja_file() { # dir edges
    local dir=$1 edges=$2
    mkdir -p "$dir"
    : > "$dir/in"
    {
        echo 'rule copy'
        echo '  command = cp $in $out'
        local previous=in
        for e in $(seq 1 "$edges"); do
            # Chains of 8, as a track's steps are.
            if [ $(( (e - 1) % 8 )) -eq 0 ]; then previous=in; fi
            echo "build o$e: copy $previous"
            previous=o$e
        done
    } > "$dir/build.ninja"
}

echo "## No-op builds, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "| tracks | steps | bounce no-op | ninja no-op (as many edges) | bounce / ninja |"
echo "| --- | --- | --- | --- | --- |"
for tracks in 10 100 1000; do
    dir="$work/p$tracks"
    rm -rf "$dir" && project "$dir" "$tracks"
    "$bounce" build -f "$dir/bounce.kdl" > /dev/null 2>&1
    steps=$("$bounce" build -f "$dir/bounce.kdl" --message-format json | grep -c '"step"')
    ours=$(best_of_5 "$bounce" build -f "$dir/bounce.kdl")
    ndir="$work/n$tracks"
    rm -rf "$ndir" && ninja_file "$ndir" "$steps"
    ninja -C "$ndir" > /dev/null
    theirs=$(best_of_5 ninja -C "$ndir")
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { if (b == 0) b = 1; printf "%.1f", a / b }')
    echo "| $tracks | $steps | ${ours} ms | ${theirs} ms | $ratio |"
done
