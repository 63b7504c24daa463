#!/usr/bin/env bash
# Benchmark `cybrid-scan ci github` against a simulated org (scripts/ci-sim.py):
# BENCH_REPOS repositories x BENCH_RUNS runs, BENCH_LOG_KB KB of log text per
# run (defaults 200 x 50 x 200 KB = about 2 GB of logs). Prints, per sweep,
# runs/s, MB/s of log text, peak RSS, where the workers' time went (the
# sweep's own "ci: time:" line: waiting on the network versus scanning,
# summed over workers) and the simulator's CPU time (if it nears the wall
# time x its processes, the simulator is the bottleneck, not the scanner);
# then the same run archives scanned from local disk by `cybrid-scan logs`
# (scanning alone). BENCH_LATENCY_MS adds a delay to every simulated answer;
# SIM_PROCS sets the simulator's processes (default: the number of cores).
# Usage: scripts/bench-ci.sh                 (the 2 GB org; release build)
#        BENCH_REPOS=5 BENCH_RUNS=10 scripts/bench-ci.sh    (a small, quick run)
set -euo pipefail
cd "$(dirname "$0")/.."
repos="${BENCH_REPOS:-200}"
runs="${BENCH_RUNS:-50}"
log_kb="${BENCH_LOG_KB:-200}"
latency="${BENCH_LATENCY_MS:-0}"
sim_procs="${SIM_PROCS:-$(nproc)}"
concurrency="${BENCH_CONCURRENCY:-4}"
# BENCH_BIN=target/debug/cybrid-scan skips the release build (a smoke run).
bin="${BENCH_BIN:-target/release/cybrid-scan}"
[ -n "${BENCH_BIN:-}" ] || cargo build --release --quiet
work=$(mktemp -d)
sim_pid=
cleanup() { [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

SIM_PROCS="$sim_procs" python3 scripts/ci-sim.py "$repos" "$runs" "$log_kb" "$latency" > "$work/sim.out" 2> "$work/sim.err" &
sim_pid=$!
for _ in $(seq 100); do [ -s "$work/sim.out" ] && break; sleep 0.1; done
api=$(head -n 1 "$work/sim.out")
[ -n "$api" ] || { cat "$work/sim.err" >&2; exit 1; }
printf '%d repositories x %d runs, %d KB of log text per run (%s MB in all), %s ms latency, --concurrency %s, %s cores\n' \
  "$repos" "$runs" "$log_kb" "$(( repos * runs * log_kb / 1024 ))" "$latency" "$concurrency" "$(nproc)"

sim_cpu() { # the simulator's CPU seconds so far (all its processes)
  local before
  before=$(grep -c '^sim cpu' "$work/sim.err" || true)
  kill -USR1 "$sim_pid"
  for _ in $(seq 50); do
    [ "$(grep -c '^sim cpu' "$work/sim.err" || true)" -gt "$before" ] && break
    sleep 0.05
  done
  grep '^sim cpu' "$work/sim.err" | tail -n 1 | awk '{print $3}'
}

measure() { # label, then the command; sets $secs, $kb
  local label=$1; shift
  local cpu0
  cpu0=$(sim_cpu)
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
  if grep -q '^cybrid-scan: ci: time:' "$work/stderr"; then
    printf '    %s\n' "$(grep '^cybrid-scan: ci: time:' "$work/stderr" | tail -n 1 | sed 's/^cybrid-scan: ci: time: //')"
  fi
  printf '    simulator: %.2f s CPU (%s processes) in the %.2f s\n' "$(echo "$(sim_cpu) - $cpu0" | bc -l)" "$sim_procs" "$secs"
}

export GITHUB_TOKEN=bench-token-not-real
measure "ci github (whole org)" "$bin" ci github bench --api-url "$api" --concurrency "$concurrency" -f json
sweep_secs=$secs
measure "ci github --state (first)" "$bin" ci github bench --api-url "$api" --concurrency "$concurrency" --state "$work/state" -f json
measure "ci github --state (rerun)" "$bin" ci github bench --api-url "$api" --concurrency "$concurrency" --state "$work/state" -f json

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
printf 'the same archives scanned from disk: %.2f s; the whole-org sweep: %.2f s; the difference (network, HTTP, spooling) %.2f s\n' \
  "$scan_secs" "$sweep_secs" "$(echo "$sweep_secs - $scan_secs" | bc -l)"
