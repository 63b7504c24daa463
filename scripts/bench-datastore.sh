#!/usr/bin/env bash
# Benchmark `sweep --datastore`: a first sweep of generated repositories into
# an empty SQLite datastore, then a second sweep of the unchanged
# repositories (blobs already scanned are not read again). Prints each
# sweep's time, bytes read, findings and peak RSS, and the datastore's size.
# Usage: scripts/bench-datastore.sh [N] [COMMITS] [FILES]   (default 20 60 120, under target/bench-repos)
#        scripts/bench-datastore.sh --repos REPO...            (existing repositories, e.g. mirrors)
#        BIN=target/debug/cybrid-scan scripts/bench-datastore.sh   (skip the release build)
#        DATASTORE=postgres://user@host/db scripts/bench-datastore.sh ...  (an empty PostgreSQL database
#        instead of a new SQLite file)
# Prints PASS/FAIL for the datastore's targets: the second sweep reads < 1 % of
# the first's bytes and takes <= 0.25x its time.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ "${1:-}" = "--repos" ]; then
  shift
  for r in "$@"; do (cd "$r" && pwd); done > "$work/manifest.txt"
  manifest="$work/manifest.txt"
  echo "$# repositories: $*" >&2
  packs=$(for r in "$@"; do echo "$r"/objects/pack/* "$r"/.git/objects/pack/*; done)
else
  n="${1:-20}"
  commits="${2:-60}"
  files="${3:-120}"
  root="target/bench-repos-$n-$commits-$files"
  if [ ! -f "$root/manifest.txt" ]; then
    echo "generating $n repositories ($commits commits, $files files each) under $root ..." >&2
    python3 scripts/gen-repos.py "$root" "$n" "$commits" "$files"
  fi
  manifest="$root/manifest.txt"
  packs=$(echo "$root"/*/objects/pack/*)
fi
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=target/release/cybrid-scan
fi
ds="${DATASTORE:-$work/incidents.db}"
# Warm the page cache: both sweeps read the packs from memory.
# shellcheck disable=SC2086
cat $packs > /dev/null 2>&1 || true

sweep() { # label
  /usr/bin/time -v -o "$work/time" "$BIN" sweep --manifest "$manifest" \
    --datastore "$ds" -q -f json > "$work/report.json" 2> "$work/stderr" || true
  local secs kb
  secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$work/time")
  kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time")
  python3 - "$1" "$secs" "$kb" "$work/report.json" <<'PY'
import json, sys
label, secs, kb, path = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
s = r["stats"]
skipped = [n for n in r.get("notes", []) if "already scanned" in n]
print(f"{label:>7}: {secs:7.2f} s  {s['bytes']:>12,} bytes read  {s['findings']:>5} findings  "
      f"peak RSS {kb / 1024:6.1f} MB  {skipped[0].split(':')[0] if skipped else ''}")
PY
  echo "$secs" > "$work/$1.secs"
  stat -c %s "$work/report.json" > /dev/null
}

sweep first
bytes1=$(python3 -c "import json;print(json.load(open('$work/report.json'))['stats']['bytes'])")
sweep second
bytes2=$(python3 -c "import json;print(json.load(open('$work/report.json'))['stats']['bytes'])")
python3 - "$(cat "$work/first.secs")" "$(cat "$work/second.secs")" "$bytes1" "$bytes2" <<'PY'
import sys
t1, t2, b1, b2 = map(float, sys.argv[1:])
tr, br = t2 / max(t1, 0.01), 100 * b2 / max(b1, 1)
print(f"second/first: time {tr:.3f}x ({'PASS' if tr <= 0.25 else 'FAIL'}: <= 0.25x), "
      f"bytes {br:.3f} % ({'PASS' if br < 1 else 'FAIL'}: < 1 %)")
PY
case "$ds" in
  postgres://*|postgresql://*) size="(PostgreSQL)" ;;
  *) size="$(du -b "$ds"* | awk '{s += $1} END {print s}') bytes on disk" ;;
esac
incidents=$("$BIN" incidents list --datastore "$ds" --format json | python3 -c "import json,sys;print(len(json.load(sys.stdin)['incidents']))")
echo "datastore: $incidents incidents, $size"
echo "load: $(uptime | sed 's/.*load average: //') (1, 5, 15 min; 2 cores)"
