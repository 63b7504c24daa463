#!/usr/bin/env bash
# Benchmark `cybrid-scan dir` against `rg -c -i cybrid` on the same tree, from the page cache.
# Usage: scripts/bench-dir.sh [TREE]   (default: generate ~520 MB under target/bench-tree)
set -euo pipefail
cd "$(dirname "$0")/.."
tree="${1:-target/bench-tree}"
if [ ! -d "$tree" ]; then
  python3 scripts/gen-tree.py "$tree" 520
fi
cargo build --release --quiet
bin=${BIN:-target/release/cybrid-scan}
command -v rg >/dev/null || { echo "ripgrep (rg) is needed: apt-get install ripgrep" >&2; exit 1; }

bytes=$(du -sb "$tree" | cut -f1)
files=$(find "$tree" -type f | wc -l)
# Warm the page cache.
cat $(find "$tree" -type f) > /dev/null

best() { # best wall time in seconds of 5 runs of "$@"
  local best=999999 t
  for _ in 1 2 3 4 5; do
    local s=$(date +%s.%N)
    "$@" > /dev/null 2>&1 || true
    t=$(echo "$(date +%s.%N) - $s" | bc -l)
    best=$(echo "if ($t < $best) $t else $best" | bc -l)
  done
  echo "$best"
}
rss() { { /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -1; }

rg_t=$(best rg -c -i cybrid "$tree")
cs_t=$(best "$bin" dir "$tree" -q -f json)
cs_rss=$(rss "$bin" dir "$tree" -q -f json)
printf 'tree: %s files, %.0f MB\n' "$files" "$(echo "$bytes / 1000000" | bc -l)"
printf 'rg -c -i cybrid:      %.3f s  %6.0f MB/s\n' "$rg_t" "$(echo "$bytes / $rg_t / 1000000" | bc -l)"
printf 'cybrid-scan dir:      %.3f s  %6.0f MB/s  %8.0f files/s  peak RSS %.0f MB\n' \
  "$cs_t" "$(echo "$bytes / $cs_t / 1000000" | bc -l)" "$(echo "$files / $cs_t" | bc -l)" "$(echo "$cs_rss / 1024" | bc -l)"
printf 'ratio cybrid-scan / rg: %.2fx (target <= 1.2x)\n' "$(echo "$cs_t / $rg_t" | bc -l)"
