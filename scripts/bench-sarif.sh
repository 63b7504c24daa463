#!/usr/bin/env bash
# Benchmark the report side of a scan with many findings: JSON vs SARIF
# output, writing a baseline, and a scan with every finding suppressed by that
# baseline. Prints wall time, findings per second, sizes and peak RSS.
# Usage: scripts/bench-sarif.sh [FINDINGS]   (default 100000, in 100 files)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
tree="target/bench-sarif-$n"
if [ ! -d "$tree" ]; then
  python3 - "$tree" "$n" <<'PY'
import base64, hashlib, os, sys
tree, n = sys.argv[1], int(sys.argv[2])
files = 100
os.makedirs(tree, exist_ok=True)
for f in range(files):
    with open(os.path.join(tree, f"svc-{f:03}.env"), "w") as out:
        out.write("# https://id.sandbox.cybrid.app\n")
        for i in range(f, n, files):
            v = base64.urlsafe_b64encode(hashlib.sha256(f"bench-{i}".encode()).digest()).decode().rstrip("=")
            out.write(f"CYBRID_CLIENT_SECRET={v}\n")
PY
fi
cargo build --release --quiet
bin=target/release/cybrid-scan
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run LABEL ARGS...: wall time and peak RSS of one run, from the page cache.
run() {
  local label=$1
  shift
  "$bin" "$@" >/dev/null 2>&1 || true # warm the cache
  /usr/bin/time -f "%e %M" "$bin" "$@" >/dev/null 2>"$out/err" || true
  grep -v '^cybrid-scan' "$out/err" | tail -1 | {
    read -r secs kb
    printf '%-34s %6.2f s  peak RSS %5d MB\n' "$label" "$secs" "$((kb / 1024))"
  }
  grep '^cybrid-scan' "$out/err" | sort -u || true
}

run "dir -f json" dir "$tree" -q -f json -o "$out/r.json"
found=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['findings']))" "$out/r.json")
run "dir -f sarif" dir "$tree" -q -f sarif -o "$out/r.sarif"
run "baseline FILE dir" baseline "$out/base.json" dir "$tree" -q
run "dir --baseline (all suppressed)" dir "$tree" -q -f json --baseline "$out/base.json" -o "$out/s.json"
echo "findings: $found"
echo "JSON report:  $(du -m "$out/r.json" | cut -f1) MB"
echo "SARIF report: $(du -m "$out/r.sarif" | cut -f1) MB, $(gzip -c "$out/r.sarif" | wc -c | awk '{printf "%.1f", $1/1048576}') MB gzipped"
python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['stats']; print('suppressed:', s.get('suppressed'), 'remaining:', s['findings'])" "$out/s.json"
