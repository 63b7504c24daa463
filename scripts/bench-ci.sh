#!/usr/bin/env bash
# Benchmark `cybrid-scan ci github` against a simulated org (scripts/ci-sim.py):
# BENCH_REPOS repositories x BENCH_RUNS runs, BENCH_LOG_KB KB of log text per
# run (defaults 200 x 50 x 200 KB = about 2 GB of logs). Prints runs/s, MB/s
# of log text, peak RSS, and scan time versus network time: the same run
# archives scanned from local disk by `cybrid-scan logs` give the scanning
# time; the rest of the sweep is waiting on the (simulated) network.
# BENCH_LATENCY_MS adds a delay to every simulated answer.
# Usage: scripts/bench-ci.sh                 (the 2 GB org; release build)
#        BENCH_REPOS=5 BENCH_RUNS=10 scripts/bench-ci.sh    (a small, quick run)
set -euo pipefail
cd "$(dirname "$0")/.."
repos="${BENCH_REPOS:-200}"
runs="${BENCH_RUNS:-50}"
log_kb="${BENCH_LOG_KB:-200}"
latency="${BENCH_LATENCY_MS:-0}"
concurrency="${BENCH_CONCURRENCY:-4}"
# BENCH_BIN=target/debug/cybrid-scan skips the release build (a smoke run).
bin="${BENCH_BIN:-target/release/cybrid-scan}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet
work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

python3 scripts/ci-sim.py "$repos" "$runs" "$log_kb" "$latency" > "$work/sim.out" 2> "$work/sim.err" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/sim.out" ] && break; sleep 0.1; done
api=$(head -n 1 "$work/sim.out")
[ -n "$api" ] || { cat "$work/sim.err" >&2; exit 1; }
printf '%d repositories x %d runs, %d KB of log text per run (%s MB in all), %s ms latency, --concurrency %s, %s cores\n' \
  "$repos" "$runs" "$log_kb" "$(( repos * runs * log_kb / 1024 ))" "$latency" "$concurrency" "$(nproc)"

measure() { # label, then the command; sets $secs, $kb
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" > "$work/report.json" 2> "$work/stderr" || true
  read -r secs kb < <(tail -n 1 "$work/time")
  secs=$(echo "if ($secs < 0.01) 0.01 else $secs" | bc -l)
  local bytes findings errors
  bytes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"]["bytes"])' "$work/report.json")
  findings=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["findings"]))' "$work/report.json")
  errors=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["errors"]))' "$work/report.json")
  printf '%-30s %7.2f s  %7.1f runs/s  %7.1f MB/s  %5d findings  %d errors  peak RSS %4.0f MB\n' \
    "$label" "$secs" "$(echo "$repos * $runs / $secs" | bc -l)" "$(echo "$bytes / $secs / 1000000" | bc -l)" \
    "$findings" "$errors" "$(echo "$kb / 1024" | bc -l)"
}

export GITHUB_TOKEN=bench-token-not-real
measure "ci github (whole org)" "$bin" ci github bench --api-url "$api" --concurrency "$concurrency" -f json -q
sweep_secs=$secs
measure "ci github --state (first)" "$bin" ci github bench --api-url "$api" --concurrency "$concurrency" --state "$work/state" -f json -q
measure "ci github --state (rerun)" "$bin" ci github bench --api-url "$api" --concurrency "$concurrency" --state "$work/state" -f json -q

# Scanning alone: the same archives from local disk (hard links of the two zips).
mkdir -p "$work/zips"
python3 - "$api" "$work/zips" "$repos" "$runs" <<'EOF'
import os, sys, urllib.request
api, out, repos, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
clean = urllib.request.urlopen(api + "/repos/bench/r000/actions/runs/1/logs").read()
leaky = urllib.request.urlopen(api + "/repos/bench/r000/actions/runs/10/logs").read()
open(os.path.join(out, "clean"), "wb").write(clean)
open(os.path.join(out, "leaky"), "wb").write(leaky)
for r in range(repos):
    for k in range(1, runs + 1):
        os.link(os.path.join(out, "leaky" if (r * 100000 + k) % 10 == 0 else "clean"),
                os.path.join(out, "r%03d-%d.zip" % (r, k)))
os.remove(os.path.join(out, "clean")); os.remove(os.path.join(out, "leaky"))
EOF
measure "logs (same archives, local)" "$bin" logs "$work/zips" -f json -q
scan_secs=$secs
printf 'scan %.2f s of the sweep'"'"'s %.2f s; waiting on the network (and HTTP, zip spooling) %.2f s\n' \
  "$scan_secs" "$sweep_secs" "$(echo "$sweep_secs - $scan_secs" | bc -l)"
