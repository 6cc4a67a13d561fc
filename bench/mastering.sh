#!/usr/bin/env bash
# The mastering benchmark: an album of TRACKS tracks × 3 minutes × 8 stems
# (24-bit/48 kHz, every track's audio its own) through stem, bus and mix
# compressors and EQs, a master with EQ, 3-band multiband and a -14 LUFS /
# -1 dBTP target, delivered as WAV 24-bit/44.1 kHz, MP3 320 kbps and FLAC
# 24-bit; against the same work as ffmpeg filter graphs (peer.sh, written
# by the generator beside the project), two tracks at a time.
#
#   bench/mastering.sh [WORKDIR] [TRACKS]     (default: a temp folder, 4 tracks)
#
# Needs ffmpeg (with libmp3lame and soxr), sox and GNU time.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d -t bounce-mastering.XXXXXX)}"
tracks="${2:-4}"
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --workspace
bounce="$repo/target/release/bounce"
generator="$repo/target/release/demo-generator"

# shellcheck source=bench/common.sh
. "$repo/bench/common.sh"
seconds() { echo "${1%% *}"; }
mib() { echo "${1##* }"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

album="$work/album"
rm -rf "$album" && "$generator" mastering-album "$album" "$tracks" 180
stems_bytes=$(du -sb "$album/stems" | cut -f1)

# The peer, two tracks at a time; every file must be there and whole.
peer_run() {
    rm -rf "$album/peer-out"
    seq 1 "$tracks" | xargs -P 2 -I{} bash "$album/peer.sh" {} "$album/peer-out"
}
peer=$(measure bash -c "$(declare -f peer_run); album='$album' tracks='$tracks' peer_run")
for t in $(seq -f %02g 1 "$tracks"); do
    for ext in wav mp3 flac; do
        f="$album/peer-out/$t.$ext"
        d=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$f" 2> /dev/null || echo 0)
        awk -v d="$d" 'BEGIN { exit !(d > 179.5 && d < 180.5) }' \
            || { echo "peer file $f is missing or cut short ($d s)" >&2; exit 1; }
    done
done

cold=$(measure "$bounce" build -f "$album/bounce.kdl")
cache_bytes=$(du -sb "$album/.bounce" | cut -f1)
noop=$(measure "$bounce" build -f "$album/bounce.kdl")
sed -i 's/eq { low-shelf 100 gain=1; bell 3000 gain=-1 q=0.8; }/eq { low-shelf 100 gain=1; bell 3000 gain=-1.5 q=0.8; }/' "$album/bounce.kdl"
master_edit=$(measure "$bounce" build -f "$album/bounce.kdl")
sed -i '0,/stem "snare" "stems\/01\/snare.wav" gain=-6/s//stem "snare" "stems\/01\/snare.wav" gain=-5/' "$album/bounce.kdl"
stem_edit=$(measure "$bounce" build -f "$album/bounce.kdl")

# One job per core against two: the same cold build from an empty cache,
# both with the stems already read once (the first cold build above read
# them from the disk), the -j 2 one keeping its step times.
rm -rf "$album/.bounce" "$album/out"
/usr/bin/time -f "%e %M" -o "$work/time-j2.txt" \
    "$bounce" build -f "$album/bounce.kdl" -j 2 --message-format json > "$work/steps.json" 2> /dev/null
two_jobs=$(awk '{ printf "%.2f %.0f", $1, $2 / 1024 }' "$work/time-j2.txt")
rm -rf "$album/.bounce" "$album/out"
one_job=$(measure "$bounce" build -f "$album/bounce.kdl" -j 1)

echo "## Mastering album: $tracks tracks × 3 min × 8 stems, run of $(date -u +%Y-%m-%d) on $(nproc) cores"
echo
echo "| figure | bounce | ffmpeg | ratio | target |"
echo "| --- | --- | --- | --- | --- |"
echo "| cold build, wall | $(seconds "$cold") s | $(seconds "$peer") s | $(ratio "$(seconds "$cold")" "$(seconds "$peer")") | ≤ 0.5 |"
echo "| master EQ band changed, wall (ffmpeg: its full run) | $(seconds "$master_edit") s | $(seconds "$peer") s | $(ratio "$(seconds "$master_edit")" "$(seconds "$peer")") | ≤ 0.25 |"
echo "| one stem's gain changed / bounce's cold build | $(seconds "$stem_edit") s | | $(ratio "$(seconds "$stem_edit")" "$(seconds "$cold")") | ≤ 0.05 |"
echo "| no-op rebuild | $(seconds "$noop") s | | | ≤ 0.03 s |"
echo "| \`-j 2\` speed-up over \`-j 1\` | $(seconds "$one_job") s / $(seconds "$two_jobs") s | | $(ratio "$(seconds "$one_job")" "$(seconds "$two_jobs")")× | ≥ 1.8× |"
echo "| peak RSS | $(mib "$cold") MiB | $(mib "$peer") MiB (two processes) | | ≤ 64 MiB |"
echo "| cache after the cold build / stems | $((cache_bytes / 1048576)) MiB / $((stems_bytes / 1048576)) MiB | | $(ratio "$cache_bytes" "$stems_bytes") | ≤ 1.0 |"
echo

# Per step: times realtime per core, from the -j 2 build's step times,
# beside ffmpeg doing the same job alone on a 48 kHz master of track 1.
master48="$work/master48.wav"
ffmpeg -v error -y -i "$album/peer-out/01.wav" -ar 48000 -c:a pcm_f32le "$master48"
peer_wav=$(measure ffmpeg -v error -y -i "$master48" -af aresample=resampler=soxr:osr=44100 -c:a pcm_s24le "$work/p.wav")
peer_mp3=$(measure ffmpeg -v error -y -i "$master48" -af aresample=resampler=soxr:osr=44100 -c:a libmp3lame -b:a 320k "$work/p.mp3")
peer_flac=$(measure ffmpeg -v error -y -i "$master48" -af aresample=resampler=soxr:osr=44100 -sample_fmt s32 -bits_per_raw_sample 24 -c:a flac "$work/p.flac")
peer_lame=$(measure lame --silent -b 320 --resample 44.1 "$master48" "$work/l.mp3")
step_speed() { # step-id prefix: mean times realtime per core
    python3 - "$work/steps.json" "$1" <<'PY'
import json, sys
ms = [json.loads(l)["ms"] for l in open(sys.argv[1])
      if '"step"' in l and json.loads(l)["step"].startswith(sys.argv[2])
      and json.loads(l)["status"] == "built"]
print(f"{180 * len(ms) / (sum(ms) / 1000):.0f}" if ms else "-")
PY
}
speed() { awk -v s="$(seconds "$1")" 'BEGIN { printf "%.0f", 180 / s }'; }
echo "| step (3-minute track) | bounce, × realtime per core | peer, × realtime |"
echo "| --- | --- | --- |"
echo "| stem (EQ + compressor) | $(step_speed stem:) | |"
echo "| bus (sum + compressor) | $(step_speed bus:) | |"
echo "| master (EQ, multiband, target, limiter, verify) | $(step_speed master:) | |"
echo "| WAV 24-bit/44.1 kHz deliverable | $(step_speed deliverable:wav:) | $(speed "$peer_wav") (ffmpeg soxr + pcm_s24le) |"
echo "| MP3 320 kbps deliverable | $(step_speed deliverable:mp3:) | $(speed "$peer_mp3") (ffmpeg libmp3lame), $(speed "$peer_lame") (lame alone) |"
echo "| FLAC 24-bit/44.1 kHz deliverable | $(step_speed deliverable:flac:) | $(speed "$peer_flac") (ffmpeg flac) |"
