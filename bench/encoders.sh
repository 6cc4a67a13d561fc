#!/usr/bin/env bash
# Deliverable encoding speed (times realtime) for one 3-minute 48 kHz stereo
# master, beside flac, ffmpeg and sox writing the same format in the same
# run. bounce's figure is the whole deliver step: quantise with dither,
# write, meter (BS.1770 and the strict true peak) and tag.
#
#   bench/encoders.sh [WORKDIR]      needs sox, ffmpeg, flac and lame
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d -t bounce-enc.XXXXXX)}"
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --workspace
bounce="$repo/target/release/bounce"
album="$work/album"
rm -rf "$album" && "$repo/target/release/demo-generator" album "$album" 1 180
cat >> "$album/bounce.kdl" <<'KDL'
master "flat" { }
deliverable "float" { master "flat"; format "wav" bits=32 float=#true; path "master.{ext}"; }
deliverable "wav24" { master "flat"; format "wav" bits=24; path "{deliverable}.{ext}"; }
deliverable "wav16" { master "flat"; format "wav" bits=16; path "{deliverable}.{ext}"; }
deliverable "bwf24" { master "flat"; format "bwf" bits=24; path "{deliverable}.{ext}"; }
deliverable "disc" { master "flat"; format "cd"; }
deliverable "stems24" { stems "drums" "bass" "music"; format "wav" bits=24; path "{deliverable}/{stem}.{ext}"; }
deliverable "aiff24" { master "flat"; format "aiff" bits=24; path "{deliverable}.{ext}"; }
deliverable "flac16" { master "flat"; format "flac" bits=16; path "{deliverable}.{ext}"; }
deliverable "flac24" { master "flat"; format "flac" bits=24; path "{deliverable}.{ext}"; }
deliverable "mp3cbr" { master "flat"; format "mp3" bitrate=320; path "{deliverable}.{ext}"; }
deliverable "mp3vbr" { master "flat"; format "mp3" quality=2; path "{deliverable}.{ext}"; }
KDL
"$bounce" build -f "$album/bounce.kdl" float > /dev/null 2>&1
master="$album/out/1/master.wav"
seconds=180
speed() { # command…; prints x realtime
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null 2> "$work/stderr.txt" || { cat "$work/stderr.txt" >&2; echo "FAILED"; return; }
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" -v s="$seconds" 'BEGIN { printf "%.0f", s / (b - a) }'
}
ours() { # deliverable name: the deliver step alone (the master is cached)
    speed "$bounce" build -j 1 -f "$album/bounce.kdl" "$1"
}
echo "## Encoding, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "| format | bounce (deliver step) | peer | peer command | bounce / peer |"
echo "| --- | --- | --- | --- | --- |"
row() {
    printf "| %s | %s× | %s× | \`%s\` | %s |\n" "$1" "$2" "$3" "$4" "$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", a / b }')"
}
row "WAV 24-bit" "$(ours wav24)" "$(speed ffmpeg -v error -y -i "$master" -c:a pcm_s24le "$work/p.wav")" "ffmpeg -c:a pcm_s24le"
row "WAV 16-bit, TPDF" "$(ours wav16)" "$(speed sox "$master" -b 16 "$work/p16.wav" dither)" "sox -b 16 … dither"
row "BWF 24-bit (bext)" "$(ours bwf24)" "$(speed ffmpeg -v error -y -i "$master" -c:a pcm_s24le -write_bext 1 -metadata originator=Bench "$work/p.bwf.wav")" "ffmpeg -c:a pcm_s24le -write_bext 1"
row "CD image + CUE (44.1 kHz/16)" "$(ours disc)" "$(speed sox "$master" -b 16 "$work/cd.wav" rate -v 44100 dither)" "sox -b 16 … rate -v 44100 dither"
stems=("$album/stems/01/kick.wav" "$album/stems/01/bass.wav" "$album/stems/01/pad.wav")
row "stems, 3 × WAV 24-bit" "$(ours stems24)" "$(speed sh -c "for s in ${stems[*]}; do sox \$s -b 24 '$work/'\$(basename \$s); done")" "sox -b 24, once per stem"
row "AIFF 24-bit" "$(ours aiff24)" "$(speed sox "$master" -b 24 "$work/p.aiff")" "sox -b 24 … .aiff"
row "FLAC 16-bit" "$(ours flac16)" "$(speed sh -c "sox '$master' -b 16 '$work/p16b.wav' && flac -f -s -5 -o '$work/p16.flac' '$work/p16b.wav'")" "sox -b 16, then flac -5"
sox "$master" -b 24 "$work/p24.wav"
row "FLAC 24-bit" "$(ours flac24)" "$(speed flac -f -s -5 -o "$work/p24.flac" "$work/p24.wav")" "flac -5 (from a 24-bit WAV)"
cbr=$(ours mp3cbr) # once: a second build of it is cached
row "MP3 CBR 320" "$cbr" "$(speed lame --silent -b 320 "$work/p24.wav" "$work/p320.mp3")" "lame -b 320 (-q 3)"
row "MP3 CBR 320" "$cbr" "$(speed ffmpeg -v error -y -i "$master" -c:a libmp3lame -b:a 320k "$work/f320.mp3")" "ffmpeg -c:a libmp3lame -b:a 320k"
row "MP3 VBR V2" "$(ours mp3vbr)" "$(speed lame --silent -V 2 "$work/p24.wav" "$work/pv2.mp3")" "lame -V 2 (-q 3)"
echo
echo "bounce's figure includes metering each file twice and tagging it (an MP3 is"
echo "decoded again and metered); the peers only convert."
echo
size() { stat -c %s "$1"; }
echo "| file | bounce bytes | flac -5 bytes | bounce / flac |"
echo "| --- | --- | --- | --- |"
for bits in 16 24; do
    ours_size=$(size "$album/out/1/flac$bits.flac")
    peer_size=$(size "$work/p$bits.flac")
    printf "| FLAC %s-bit | %s | %s | %s |\n" "$bits" "$ours_size" "$peer_size" "$(awk -v a="$ours_size" -v b="$peer_size" 'BEGIN { printf "%.3f", a / b }')"
done
rm -rf "$album"
