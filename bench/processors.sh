#!/usr/bin/env bash
# Processor speed (times realtime, 48 kHz stereo) beside the nearest sox or
# ffmpeg effect, and a loudness target met by bounce and by ffmpeg's
# two-pass loudnorm, all in one run. Prints Markdown.
#
#   bench/processors.sh [WORKDIR]      needs sox and ffmpeg
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d -t bounce-proc.XXXXXX)}"
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --workspace
bounce="$repo/target/release/bounce"

# 60 s of 48 kHz stereo noise for the peers (bounce's bench makes its own).
sox -n -r 48000 -c 2 -b 24 "$work/noise.wav" synth 60 whitenoise gain -6 2>/dev/null
seconds=60

elapsed() { # command… ; prints wall seconds
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
baseline=$(elapsed sox "$work/noise.wav" -n)
peer() { # effect arguments for sox; prints x realtime of the effect alone
    local t
    t=$(elapsed sox "$work/noise.wav" -n "$@")
    awk -v t="$t" -v b="$baseline" -v s="$seconds" 'BEGIN { d = t - b; if (d < 0.01) d = 0.01; printf "%.0f", s / d }'
}
ffpeer() { # ffmpeg filter; prints x realtime of the filter alone
    local t b
    b=$(elapsed ffmpeg -v error -i "$work/noise.wav" -f null -)
    t=$(elapsed ffmpeg -v error -i "$work/noise.wav" -af "$1" -f null -)
    awk -v t="$t" -v b="$b" -v s="$seconds" 'BEGIN { d = t - b; if (d < 0.01) d = 0.01; printf "%.0f", s / d }'
}

declare -A ours
while read -r name speed; do ours[$name]=$speed; done < <(
    cargo bench --quiet --manifest-path "$repo/Cargo.toml" -p bounce-nodes --bench processors 2>/dev/null)

echo "## Processors, $(date -u +%Y-%m-%d), $(nproc) cores"
echo
echo "Times realtime on 48 kHz stereo (higher is faster); the peer's figure is its run"
echo "minus the same command without the effect (decoding and I/O taken out)."
echo
echo "| processor | bounce | peer | peer command | bounce / peer |"
echo "| --- | --- | --- | --- | --- |"
row() { # name peer_speed peer_command
    printf "| %s | %s× | %s× | \`%s\` | %s |\n" "$1" "${ours[$1]}" "$2" "$3" \
        "$(awk -v a="${ours[$1]}" -v b="$2" 'BEGIN { printf "%.2f", a / b }')"
}
row gain "$(peer gain -3)" "sox gain -3"
row eq "$(peer highpass 25 highpass 25 bass 1 100 equalizer 3000 1.2q -1.5 treble 1 10000)" "sox highpass ×2, bass, equalizer, treble"
row compress "$(peer compand 0.01,0.1 6:-80,-80,-20,-20,0,-15)" "sox compand (4:1 at -20 dB)"
row multiband "$(peer mcompand '0.01,0.1 6:-80,-80,-20,-20,0,-15' 120 '0.01,0.1 6:-80,-80,-20,-20,0,-15' 2000 '0.01,0.1 6:-80,-80,-20,-20,0,-15' 8000 '0.01,0.1 6:-80,-80,-20,-20,0,-15')" "sox mcompand, 4 bands"
row limit "$(ffpeer alimiter=limit=0.891:attack=5:release=50)" "ffmpeg alimiter (sample peak, not true peak)"
row delay "$(peer echo 0.7 0.7 250 0.4)" "sox echo"
row reverb "$(peer reverb 50 50 70)" "sox reverb (Freeverb)"
row loudness-meter "$(ffpeer ebur128=peak=true)" "ffmpeg ebur128=peak=true"
row dither-16 "$(peer -b 16 dither)" "sox -b 16 dither (with 16-bit conversion)"
row resample-48k-44k1 "$(peer rate -v 44100)" "sox rate -v 44100"
row gate "$(ffpeer agate=threshold=0.0056:range=0.1:attack=2:release=150)" "ffmpeg agate (-45 dB, range -20 dB)"
row de-ess "$(ffpeer deesser)" "ffmpeg deesser"
row level "$(ffpeer dynaudnorm)" "ffmpeg dynaudnorm"
sox "$work/noise.wav" -n trim 0 1 noiseprof "$work/noise.prof" 2>/dev/null
row denoise "$(peer noisered "$work/noise.prof" 0.3)" "sox noisered (profile of the first second)"
echo
echo "denoise beside ffmpeg's afftdn: $(ffpeer afftdn=nr=12)× for afftdn=nr=12."
echo
echo "width and automate have no direct peer: ${ours[width]}× and ${ours[automate]}×."

# Loudness targets: the same 3-minute mix mastered by bounce and by ffmpeg's
# two-pass loudnorm (linear mode requested, as for a transparent master).
album="$work/album"
rm -rf "$album" && "$repo/target/release/demo-generator" album "$album" 1 180
cat >> "$album/bounce.kdl" <<'KDL'
master "flat" { }
master "at14" target=-14 ceiling=-1.0 { }
master "at9" target=-9 ceiling=-1.0 { }
deliverable "flat" { master "flat"; format "wav" bits=32 float=#true; path "flat.{ext}"; }
deliverable "b14" { master "at14"; format "wav" bits=24; path "bounce-14.{ext}"; }
deliverable "b9" { master "at9"; format "wav" bits=24; path "bounce-9.{ext}"; }
KDL
"$bounce" build -f "$album/bounce.kdl" > /dev/null 2>&1
out="$album/out/1"
loudnorm() { # target output
    local measured
    measured=$(ffmpeg -hide_banner -i "$out/flat.wav" -af "loudnorm=I=$1:TP=-1:LRA=11:print_format=json" -f null - 2>&1 | sed -n '/^{/,/^}/p')
    get() { echo "$measured" | sed -n "s/.*\"$1\" : \"\(.*\)\".*/\1/p"; }
    ffmpeg -v error -y -i "$out/flat.wav" -af "loudnorm=I=$1:TP=-1:LRA=11:measured_I=$(get input_i):measured_TP=$(get input_tp):measured_LRA=$(get input_lra):measured_thresh=$(get input_thresh):offset=$(get target_offset):linear=true" -ar 48000 -c:a pcm_s24le "$2"
}
loudnorm -14 "$out/ffmpeg-14.wav"
loudnorm -9 "$out/ffmpeg-9.wav"
ffmpeg_reading() { # file: "integrated true_peak" by ffmpeg's meter
    ffmpeg -hide_banner -nostats -i "$1" -af ebur128=peak=true -f null - 2>&1 \
        | awk '/I:/ { i = $2 } /Peak:/ { p = $2 } END { print i, p }'
}
bounce_reading() { # file: "integrated true_peak" by bounce analyze, 2 decimals
    "$bounce" analyze --message-format json "$1" \
        | sed 's/.*"integrated":\([-0-9.]*\).*"true_peak":\([-0-9.]*\).*/\1 \2/'
}
verdict() { awk -v t="$1" -v i="$2" -v p="$3" 'BEGIN { printf "%s | %s", (i - t <= 0.1 && i - t >= -0.1) ? "yes" : "no", (p <= -1.0) ? "yes" : "no" }'; }
echo
echo "## Loudness targets under a -1 dBTP ceiling, one 3-minute mix"
echo
echo "Read by ffmpeg's ebur128 filter with peak=true (an independent meter, one"
echo "decimal) and by \`bounce analyze\` (two decimals)."
echo
echo "| target | tool | ffmpeg reads | bounce analyze reads | on target (±0.1 LU) | under ceiling |"
echo "| --- | --- | --- | --- | --- | --- |"
for target in -14 -9; do
    for tool in bounce ffmpeg; do
        file="$out/$tool$target.wav"
        read -r fi fp <<< "$(ffmpeg_reading "$file")"
        read -r bi bp <<< "$(bounce_reading "$file")"
        name=$([ "$tool" = bounce ] && echo "bounce \`target=$target ceiling=-1.0\`" || echo "ffmpeg loudnorm, two passes, linear=true")
        echo "| $target LUFS | $name | $fi LUFS, $fp dBTP | $bi LUFS, $bp dBTP | $(verdict "$target" "$bi" "$bp") |"
    done
done
rm -rf "$album" "$work/noise.wav"
