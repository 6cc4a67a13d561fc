# Shared by the benchmark scripts: source it after setting $work.

# Runs a command; prints "seconds peak_MiB".
measure() {
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > /dev/null 2> "$work/stderr.txt" \
        || { cat "$work/stderr.txt" >&2; exit 1; }
    awk '{ printf "%.2f %.0f", $1, $2 / 1024 }' "$work/time.txt"
}
