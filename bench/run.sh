#!/usr/bin/env bash
# Benchmarks bounce against sox on this machine, in one run, so the ratios
# hold even on a shared, noisy machine. Prints a Markdown report.
#
#   bench/run.sh [WORKDIR]     (default: a temporary folder; needs ~25 GB free)
#   TRACKS=4 bench/run.sh      (a shorter mastering album)
#
# Needs sox and GNU time (`apt-get install -y sox time`).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d -t bounce-bench.XXXXXX)}"
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --workspace
bounce="$repo/target/release/bounce"
generator="$repo/target/release/demo-generator"

# shellcheck source=bench/common.sh
. "$repo/bench/common.sh"

row() { # label bounce_result peer_result
    local b_s b_m p_s p_m
    read -r b_s b_m <<< "$2"
    if [ -n "${3:-}" ]; then
        read -r p_s p_m <<< "$3"
        printf "| %s | %s s | %s MiB | %s s | %s MiB | %.2f |\n" "$1" "$b_s" "$b_m" "$p_s" "$p_m" \
            "$(awk -v a="$b_s" -v b="$p_s" 'BEGIN { print (b > 0 ? a / b : 0) }')"
    else
        printf "| %s | %s s | %s MiB | | | |\n" "$1" "$b_s" "$b_m"
    fi
}

# The peer: sox sums each track's stems, normalises, writes 24-bit/48 kHz and
# dithered 16-bit/44.1 kHz files, two tracks at a time (as bounce uses 2 cores).
sox_album() { # project_dir
    local dir="$1" out="$1/sox-out"
    mkdir -p "$out"
    find "$dir/stems" -mindepth 1 -maxdepth 1 -type d | sort | xargs -P 2 -I{} sh -c '
        t=$(basename {}); out='"$out"'
        sox -m {}/*.wav -b 24 "$out/$t.wav" remix -m 1v0.5,2v0.5 1v0.5,2v0.5 gain -n -14 2>/dev/null \
            || sox -m {}/*.wav -b 24 "$out/$t.wav" gain -n -14
        sox "$out/$t.wav" -b 16 "$out/$t-cd.wav" rate -v 44100 dither'
}

echo "## Run of $(date -u +%Y-%m-%d) on $(nproc) cores, $(uname -m)"
echo
echo "| case | bounce time | bounce peak RSS | sox time | sox peak RSS | time ratio (bounce/sox) |"
echo "| --- | --- | --- | --- | --- | --- |"

# The demo (3 tracks × 12 s, 5–6 stems each).
demo="$work/demo"
rm -rf "$demo" && cp -r "$repo/projects/demo" "$demo" && rm -rf "$demo/.bounce" "$demo/out" "$demo/generator"
cold=$(measure "$bounce" build -f "$demo/bounce.kdl")
noop=$(measure "$bounce" build -f "$demo/bounce.kdl")
sed -i 's|stem "snare"  "stems/02/snare.flac" gain=-2|stem "snare"  "stems/02/snare.flac" gain=-2.5|' "$demo/bounce.kdl"
edit=$(measure "$bounce" build -f "$demo/bounce.kdl")
row "demo: cold build" "$cold"
row "demo: no-op rebuild" "$noop"
row "demo: one stem's gain edited" "$edit"

# The album: 10 tracks × 3 minutes × 8 stems.
album="$work/album"
rm -rf "$album" && "$generator" album "$album" 10 180
cold=$(measure "$bounce" build -f "$album/bounce.kdl")
peer=$(measure bash -c "$(declare -f sox_album); sox_album '$album'")
noop=$(measure "$bounce" build -f "$album/bounce.kdl")
sed -i '0,/stem "snare" "stems\/05\/snare.wav" gain=-6/s//stem "snare" "stems\/05\/snare.wav" gain=-5/' "$album/bounce.kdl"
edit=$(measure "$bounce" build -f "$album/bounce.kdl")
row "album 10×3 min×8 stems: cold build" "$cold" "$peer"
row "album: no-op rebuild" "$noop"
row "album: one stem's gain edited" "$edit"
echo
echo "album cache size: $(du -sh "$album/.bounce" | cut -f1)"
rm -rf "$album/.bounce" "$album/sox-out"

# One hour, one track: memory must not grow with length.
hour="$work/hour"
rm -rf "$hour" && mkdir -p "$hour"
cat > "$hour/bounce.kdl" <<'KDL'
release "Hour" {
    version "1"
}
master "main" {
    loudness -16
}
track 1 "One hour" {
    tone "a" freq=440 level=-12 length=3600
    tone "b" freq=660 level=-18 length=3600 pan=0.3
}
deliverable "wav" {
    master "main"
    format "wav" bits=24 rate=44100
}
KDL
cold=$(measure "$bounce" build -f "$hour/bounce.kdl")
peer=$(measure sox -n -r 48000 -c 2 -b 24 "$hour/sox.wav" synth 3600 sine 440 sine 660 gain -n -16 rate -v 44100)
echo
echo "| case | bounce time | bounce peak RSS | sox time | sox peak RSS | time ratio (bounce/sox) |"
echo "| --- | --- | --- | --- | --- | --- |"
row "1 hour, 1 track, cold build" "$cold" "$peer"
rm -rf "$hour"

# The mastering album and its ffmpeg peer (bench/mastering.sh), 10 tracks.
echo
"$repo/bench/mastering.sh" "$work/mastering" "${TRACKS:-10}"
