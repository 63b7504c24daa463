#!/usr/bin/env bash
# Fuzz every cargo-fuzz target in fuzz/ for SECONDS each (default 60), one
# after another, with seed corpora built from fixtures/.
#
#   scripts/fuzz.sh SECONDS [TARGET...]
#
# Only the stable toolchain is needed: cargo-fuzz passes a few -Z flags to
# rustc, and RUSTC_BOOTSTRAP=1 lets stable accept them. The targets are built
# optimised, without a sanitizer (the scanner is safe Rust: what fuzzing looks
# for here is panics, overflows, hangs and runaway memory, which libFuzzer
# reports by itself), with debug assertions and overflow checks in the
# scanner's own code only (fuzz/Cargo.toml): in every dependency they made
# the engine target 40 times slower.
# Crashes land in fuzz/artifacts/TARGET/; the corpus grows in fuzz/corpus/TARGET/.
# Exit status: 0 when no target crashed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# libFuzzer is C++: cargo-fuzz builds it with the system compiler.
if ! command -v c++ >/dev/null; then
  apt-get update -qq && apt-get install -y -qq g++ >/dev/null
fi

flags=(--release --sanitizer none)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list --fuzz-dir fuzz)
fi

seed() { # seed TARGET: fill fuzz/corpus/TARGET from fixtures/ (idempotent)
  local t=$1 dir=fuzz/corpus/$1 f i=0
  mkdir -p "$dir"
  # Inputs that once crashed or hung a target stay in its corpus for good.
  if [ -d "fuzz/regressions/$t" ]; then cp fuzz/regressions/"$t"/* "$dir/"; fi
  case $t in
    engine)
      find fixtures -type f ! -name '*.md' -print0 | while IFS= read -r -d '' f; do
        cp "$f" "$dir/seed-$(printf '%s' "$f" | sha1sum | cut -c1-16)"
      done ;;
    jwt)
      grep -rhoE 'eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+' fixtures | sort -u |
        while IFS= read -r f; do
          printf '%s' "$f" > "$dir/seed-$(printf '%s' "$f" | sha1sum | cut -c1-16)"
        done ;;
    rules)
      cp rules/*.toml "$dir/" ;;
    prefilter)
      # Keywords in every case, hosts, and the base64 forms, cut at 64 KiB.
      find fixtures/samples fixtures/logs -type f -size -64k ! -name '*.md' | head -200 | while IFS= read -r f; do
        cp "$f" "$dir/seed-$(printf '%s' "$f" | sha1sum | cut -c1-16)"
      done
      printf 'CyBrId secret Secret SECRET sec Y3licmlkLmFwc N5YnJpZC5jb2 jeWJyaWQuY29t id.sandbox.cybrid.app\n' > "$dir/seed-keywords" ;;
    config)
      # The documented example config, and each value shape the parser takes.
      printf 'format = "sarif"\nmax_file_size = "10M"\nexit_code = 3\n[allow]\npaths = ["docs/**"]\nfingerprints = ["abc"]\n[verify]\nconcurrency = 4\nrate = 2.5\ntimeout = 10\nendpoints = { sandbox = "http://127.0.0.1:8080" }\n' > "$dir/seed-full"
      find fixtures -name '*.toml' -exec cp {} "$dir/" \; ;;
    normalize)
      for f in fixtures/logs/*.log fixtures/samples/ci/*.log; do
        [ -f "$f" ] || continue
        i=$((i + 1))
        { printf '\001'; head -c 65536 "$f"; } > "$dir/seed-$i"
      done ;;
    pack)
      # A real pack made by git (the whole file, knob bit 7): two commits of
      # sample files, the second editing each, so the pack has deltas; the
      # blobs `git verify-pack` lists in the first 64 KiB are wanted.
      local tmp pk g=(git -c user.name=f -c user.email=f@f -C)
      tmp=$(mktemp -d)
      git -C "$tmp" init -q
      find fixtures/samples -type f -size -8k | head -40 | while IFS= read -r f; do
        cp "$f" "$tmp/$(printf '%s' "$f" | sha1sum | cut -c1-12)"
      done
      "${g[@]}" "$tmp" add -A && "${g[@]}" "$tmp" commit -qm one
      for f in "$tmp"/*; do printf 'edited\n' >> "$f"; done
      "${g[@]}" "$tmp" commit -qam two
      git -C "$tmp" repack -adf -q --depth=20
      for pk in "$tmp"/.git/objects/pack/*.pack; do
        mapfile -t offs < <(git -C "$tmp" verify-pack -v "${pk%.pack}.idx" |
          awk '$2 == "blob" && $5 < 65536 {print $5}' | head -16)
        { printf '\x80'; printf "\\x$(printf %02x ${#offs[@]})"
          for o in "${offs[@]}"; do printf "\\x$(printf %02x $((o >> 8)))\\x$(printf %02x $((o & 255)))"; done
          head -c 65000 "$pk"; } > "$dir/seed-git"
      done
      rm -rf "$tmp" ;;
    delta)
      # base "hello world\n"; delta: sizes 12 -> 18, copy 0..12, insert "hello\n".
      printf '\x00\x0chello world\n\x0c\x12\x90\x0c\x06hello\n' > "$dir/seed-copy-insert"
      # a copy with no size bytes (64 KiB) on a short base: refused.
      printf '\x00\x02ab\x02\x80\x80\x04\x80' > "$dir/seed-big-copy" ;;
    log_readers)
      for f in fixtures/logs/*.log fixtures/samples/ci/*.log; do
        [ -f "$f" ] || continue
        i=$((i + 1))
        { printf '\000'; head -c 65536 "$f"; } > "$dir/seed-plain-$i"
        { printf '\001'; head -c 65536 "$f" | gzip -c; } > "$dir/seed-gzip-$i"
      done
      if command -v zip >/dev/null; then
        local tmp
        tmp=$(mktemp -d)
        cp fixtures/logs/*.log "$tmp/" 2>/dev/null || true
        (cd "$tmp" && zip -q -r logs.zip . -i '*.log') || true
        [ -f "$tmp/logs.zip" ] && { printf '\000'; cat "$tmp/logs.zip"; } > "$dir/seed-zip"
        rm -rf "$tmp"
      fi ;;
  esac
}

echo "== building fuzz targets (${targets[*]})"
for t in "${targets[@]}"; do cargo fuzz build --fuzz-dir fuzz "${flags[@]}" "$t"; done

failed=()
for t in "${targets[@]}"; do
  seed "$t"
  mkdir -p "fuzz/artifacts/$t"
  echo "== fuzzing $t for ${secs}s ($(find "fuzz/corpus/$t" -type f | wc -l) inputs in corpus)"
  start=$(date +%s)
  if cargo fuzz run --fuzz-dir fuzz "${flags[@]}" "$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=30 -rss_limit_mb=2048 -max_len=65536 \
      -print_final_stats=1 2> "fuzz/artifacts/$t/last-run.log"; then
    status=ok
  else
    status=CRASH
    failed+=("$t")
    grep -E 'panicked|ERROR|Test unit written' "fuzz/artifacts/$t/last-run.log" | head -5 || true
  fi
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "fuzz/artifacts/$t/last-run.log" | grep -oE '[0-9]+$' || echo '?')
  echo "$t: $status after $(( $(date +%s) - start ))s, $runs runs"
  echo "$(date -u +%FT%TZ) $t $status $(( $(date +%s) - start ))s $runs runs" >> fuzz/artifacts/history.txt
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: no crashes"
