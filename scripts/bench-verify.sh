#!/usr/bin/env bash
# Benchmark `--verify` against the local identity-service simulator:
# 1,000 findings of 50 distinct live pairs (each pair must cost exactly one
# token request), at the default rate limit (10/s) and at 500/s; then a
# hanging endpoint, to show the global deadline bounds the run.
# Usage: scripts/bench-verify.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bins
scan=target/release/cybrid-scan
work=$(mktemp -d)
sim_pid=""
hang_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  [ -n "$hang_pid" ] && kill "$hang_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# 50 generated (fake) pairs, 20 files that each hold all 50: 1,000 findings.
python3 - "$work" <<'PY'
import base64, json, os, secrets, sys
work = sys.argv[1]
def cred():  # alphanumeric only, so no part of it reads as a placeholder word
    while True:
        v = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        if v.isalnum():
            return v
pairs = [(cred(), cred()) for _ in range(50)]
os.makedirs(f"{work}/tree")
body = "".join(f"CYBRID_CLIENT_ID={i}\nCYBRID_CLIENT_SECRET={s}\n\n" for i, s in pairs)
for n in range(20):
    open(f"{work}/tree/service-{n:02}.env", "w").write(body)
json.dump({"applications": [{"client_id": i, "client_secret": s} for i, s in pairs]},
          open(f"{work}/apps.json", "w"))
PY

target/release/cybrid-idsim --port 0 --applications "$work/apps.json" > "$work/sim.url" &
sim_pid=$!
for _ in $(seq 50); do [ -s "$work/sim.url" ] && break; sleep 0.1; done
url=$(head -1 "$work/sim.url")

requests() { curl -s "$url/__sim/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token_requests"])'; }

run() { # label, extra args...
  local label=$1; shift
  local before; before=$(requests)
  local s; s=$(date +%s.%N)
  /usr/bin/time -f %M -o "$work/rss" "$scan" dir "$work/tree" -q -f json --verify \
    --endpoint "sandbox=$url/sandbox" --endpoint "production=$url/production" "$@" > "$work/report.json" || true
  local t; t=$(echo "$(date +%s.%N) - $s" | bc -l)
  local after; after=$(requests)
  local live; live=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(f["verification"]["status"]=="live" for f in r["findings"]), len(r["findings"]))' "$work/report.json")
  printf '%-34s %6.2f s  %4d token requests  live/findings %s  peak RSS %.0f MB\n' \
    "$label" "$t" "$((after - before))" "$live" "$(echo "$(tail -1 "$work/rss") / 1024" | bc -l)"
}

run "1,000 findings, default 10/s"
run "1,000 findings, --verify-rate 500" --verify-rate 500
run "1,000 findings, rate 500, conc 1" --verify-rate 500 --verify-concurrency 1

# A server that accepts and never answers.
python3 -c '
import socket, time, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
held = []
while True:
    c, _ = s.accept(); held.append(c)
' > "$work/hang.port" &
hang_pid=$!
for _ in $(seq 50); do [ -s "$work/hang.port" ] && break; sleep 0.1; done
hang="http://127.0.0.1:$(head -1 "$work/hang.port")"
s=$(date +%s.%N)
"$scan" dir "$work/tree" -q -f json --verify --endpoint "sandbox=$hang" \
  --verify-timeout 2 --verify-deadline 5 > "$work/hang.json" || true
t=$(echo "$(date +%s.%N) - $s" | bc -l)
unknown=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(sum(f["verification"]["status"]=="unknown" for f in r["findings"]))' "$work/hang.json")
printf '%-34s %6.2f s  %s of 1000 findings unknown (deadline 5 s, timeout 2 s)\n' "hanging endpoint" "$t" "$unknown"
