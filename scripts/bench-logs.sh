#!/usr/bin/env bash
# Benchmark `cybrid-scan logs` on a generated CI log (plain and gzip) next to
# `cat` and `gzip -dc` on the same files, from the page cache.
#
#   scripts/bench-logs.sh [SIZE_MB] [WORKDIR]     (defaults: 1100 MB, a temp dir)
#
# Prints wall time, MB/s, CPU time (user + system) and peak RSS for each.
# Targets: plain scan within 1.5x of `cat`'s wall time and 1.3x of its CPU
# time (one thread, so the CPU figure does not depend on the load), gzip scan
# at most 0.35x of `gzip -dc`, RSS < 100 MB. `--no-mmap` shows what reading
# with read(2) (the kernel's copy) costs instead of memory maps.
set -euo pipefail

size_mb=${1:-1100}
work=${2:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$here/target/release/cybrid-scan}

if [ ! -x "$bin" ] || [ -n "${BENCH_BUILD:-}" ]; then
  (cd "$here" && cargo build --release --bin cybrid-scan)
fi
mkdir -p "$work"
log=$work/bench.log
gz=$work/bench.log.gz

if [ ! -s "$log" ] || [ "$(($(stat -c %s "$log") / 1048576))" -lt "$size_mb" ]; then
  echo "generating ~${size_mb} MB log in $work ..." >&2
  python3 - "$log" "$size_mb" <<'PY'
import base64, random, secrets, sys
path, size_mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(4)
def fake():  # generated, never a real credential
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
words = ("npm", "install", "cargo", "build", "test", "passed", "warning", "Compiling", "Downloading",
         "resolving", "deps", "src/lib.rs", "ok", "FAILED", "docker", "pull", "layer", "sha256", "already",
         "exists", "node_modules", "webpack", "bundle", "chunk", "emitted", "kB", "ms", "retry", "GET", "200")
block = []
t = 0
while sum(map(len, block)) < 8 << 20:
    t += 1
    ts = "2024-05-01T10:%02d:%02d.%07dZ " % (t // 3600 % 60, t // 60 % 60, t % 10_000_000)
    r = rnd.random()
    if r < 0.15:
        line = "\x1b[36;1m" + " ".join(rnd.choices(words, k=rnd.randint(2, 8))) + "\x1b[0m"
    elif r < 0.2:
        line = "##[group]Run " + " ".join(rnd.choices(words, k=4))
    elif r < 0.25:
        line = "sha256:" + secrets.token_hex(32) + " " + " ".join(rnd.choices(words, k=3))
    else:
        line = " ".join(rnd.choices(words, k=rnd.randint(3, 18)))
    block.append(ts + line + "\n")
block = "".join(block).encode()
target = size_mb << 20
with open(path, "wb") as f:
    written = 0
    i = 0
    while written < target:
        f.write(block)
        written += len(block)
        i += 1
        if i % 16 == 0:  # a leak every ~128 MB: an echoed env and a failing curl
            leak = ("2024-05-01T11:00:00.0000000Z CYBRID_CLIENT_SECRET=\x1b[32m%s\x1b[0m\n"
                    "2024-05-01T11:00:01.0000000Z curl -d '{\"client_id\":\"%s\",\"client_secret\":\"%s\"}' "
                    "https://id.sandbox.cybrid.app/oauth/token\n") % (fake(), fake(), fake())
            f.write(leak.encode())
            written += len(leak)
PY
  rm -f "$gz"
fi
if [ ! -s "$gz" ]; then
  echo "compressing (gzip -6) ..." >&2
  gzip -6 -c "$log" > "$gz"
fi

plain_mb=$(( $(stat -c %s "$log") / 1048576 ))
# Warm the page cache.
cat "$log" > /dev/null; cat "$gz" > /dev/null

# run LABEL MB CMD... : prints wall seconds, MB/s, CPU seconds (user+sys), peak RSS,
# each the best of $REPEAT runs (default 3). On a shared machine wall time
# swings with the load; CPU time much less.
run() {
  local label=$1 mb=$2; shift 2
  local best_s="" best_c="" best_r="" i
  for i in $(seq "${REPEAT:-3}"); do
    /usr/bin/time -o "$work/.time" -f '%e %U %S %M' "$@" > /dev/null 2>&1 || true
    read -r secs user sys rss_kb < <(tail -1 "$work/.time")
    read -r best_s best_c best_r < <(awk -v s="$secs" -v c="$(awk -v u="$user" -v y="$sys" 'BEGIN { print u + y }')" \
      -v r="$rss_kb" -v bs="$best_s" -v bc="$best_c" -v br="$best_r" 'BEGIN {
        if (bs == "" || s < bs) bs = s; if (bc == "" || c < bc) bc = c; if (br == "" || r > br) br = r
        print bs, bc, br }')
  done
  awk -v l="$label" -v s="$best_s" -v mb="$mb" -v c="$best_c" -v r="$best_r" \
    'BEGIN { printf "%-34s %6.2f s wall %7.0f MB/s %6.2f s cpu %7.1f MB peak RSS\n", l, s, (s > 0 ? mb / s : 0), c, r / 1024 }'
  echo "$best_s $best_c" > "$work/.last"
}

echo "log: $plain_mb MB plain, $(( $(stat -c %s "$gz") / 1048576 )) MB gzip; $(nproc) cores"
run "cat FILE > /dev/null" "$plain_mb" cat "$log"; read -r cat_s cat_c < "$work/.last"
run "cybrid-scan logs FILE" "$plain_mb" "$bin" logs -q -f json "$log"; read -r scan_s scan_c < "$work/.last"
run "cybrid-scan logs --threads 1 FILE" "$plain_mb" "$bin" logs -q -f json --threads 1 "$log"; read -r one_s one_c < "$work/.last"
run "  the same, --no-mmap" "$plain_mb" "$bin" logs -q -f json --threads 1 --no-mmap "$log"; read -r nomap_s nomap_c < "$work/.last"
run "gzip -dc FILE.gz > /dev/null" "$plain_mb" gzip -dc "$gz"; read -r gz_s gz_c < "$work/.last"
run "cybrid-scan logs FILE.gz" "$plain_mb" "$bin" logs -q -f json "$gz"; read -r scangz_s scangz_c < "$work/.last"
run "cybrid-scan logs - < FILE" "$plain_mb" sh -c "\"$bin\" logs -q -f json - < \"$log\""
awk -v a="$scan_s" -v c="$cat_s" -v g="$scangz_s" -v z="$gz_s" \
    -v ac="$scan_c" -v cc="$cat_c" -v gc="$scangz_c" -v zc="$gz_c" -v oc="$one_c" -v nc="$nomap_c" 'BEGIN {
  printf "plain: %.2fx the wall time of cat (target <= 1.5x); cpu %.2fx\n", (c > 0 ? a / c : 0), (cc > 0 ? ac / cc : 0)
  printf "plain, one thread: %.2fx the cpu time of cat (target <= 1.3x); with --no-mmap %.2fx\n", (cc > 0 ? oc / cc : 0), (cc > 0 ? nc / cc : 0)
  printf "gzip:  %.2fx the wall time of gzip -dc (target <= 0.35x); cpu %.2fx\n", (z > 0 ? g / z : 0), (zc > 0 ? gc / zc : 0)
}'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
findings=$("$bin" logs -q -f json "$log" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["findings"]))' || true)
echo "findings in the plain log: $findings"
