#!/usr/bin/env bash
# Benchmark `cybrid-scan sweep` over 100 generated repositories (full history
# of each), opened in place and cloned over file:// URLs, and a resumed rerun.
# Prints repositories/minute, MB/s of unique blobs and peak RSS.
# Usage: scripts/bench-sweep.sh [N] [COMMITS] [FILES]   (default 100 60 120, under target/bench-repos)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100}"
commits="${2:-60}"
files="${3:-120}"
root="target/bench-repos-$n-$commits-$files"
if [ ! -f "$root/manifest.txt" ]; then
  echo "generating $n repositories ($commits commits, $files files each) under $root ..." >&2
  python3 scripts/gen-repos.py "$root" "$n" "$commits" "$files"
fi
cargo build --release --quiet
bin=target/release/cybrid-scan
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
# Warm the page cache.
cat "$root"/*/objects/pack/* > /dev/null 2>&1 || true

measure() { # label, then the command
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$state/time" "$@" > "$state/report.json" 2> "$state/stderr" || true
  # GNU time writes "Command exited with non-zero status N" first when findings make it exit 1.
  read -r secs kb < <(tail -n 1 "$state/time")
  # GNU time prints centiseconds: a rerun with nothing to do can show 0.00.
  secs=$(echo "if ($secs < 0.01) 0.01 else $secs" | bc -l)
  local repos bytes findings failed
  repos=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(len(r["repositories"]))' "$state/report.json")
  failed=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(x["status"]=="failed" for x in r["repositories"]))' "$state/report.json")
  bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["bytes"])' "$state/report.json")
  findings=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$state/report.json")
  printf '%-34s %6.2f s  %7.0f repos/min  %6.0f MB/s  %4d findings  %d failed  peak RSS %4.0f MB\n' \
    "$label" "$secs" "$(echo "$repos * 60 / $secs" | bc -l)" "$(echo "$bytes / $secs / 1000000" | bc -l)" \
    "$findings" "$failed" "$(echo "$kb / 1024" | bc -l)"
}

blobs_mb=$(du -sm "$root" | cut -f1)
printf '%d repositories, %d commits and %d files each, %s MB of packs on disk, %s cores\n' \
  "$n" "$commits" "$files" "$blobs_mb" "$(nproc)"
measure "sweep (paths)" "$bin" sweep --manifest "$root/manifest.txt" -f json -q
measure "sweep (file:// clones)" "$bin" sweep --manifest "$root/manifest-urls.txt" -f json -q
measure "sweep --state (first run)" "$bin" sweep --manifest "$root/manifest.txt" --state "$state/s" -f json -q
measure "sweep --state (rerun, all done)" "$bin" sweep --manifest "$root/manifest.txt" --state "$state/s" -f json -q
measure "sweep --shard 0/4" "$bin" sweep --manifest "$root/manifest.txt" --shard 0/4 -f json -q
