#!/usr/bin/env bash
# Runs the real `pre-commit` tool against this checkout's .pre-commit-hooks.yaml
# (`pre-commit try-repo`), in a temporary git repository:
#   1. a staged Cybrid secret blocks the commit: non-zero, names file and line, prints no secret;
#   2. a clean change passes;
#   3. a line marked `cybrid-scan:allow` passes.
# Then the same with the `cybrid-scan-prebuilt` hook (no toolchain), served by a local
# stand-in of the releases download (python3 -m http.server on 127.0.0.1, holding a
# release archive made from an installed binary and its .sha256):
#   4. it downloads once, checks the SHA-256, blocks the staged secret; the next run
#      reuses the cached binary;
#   5. an archive whose .sha256 does not match is refused, and nothing runs.
#
# Usage: scripts/test-pre-commit.sh [HOOK...]   (default: cybrid-scan cybrid-scan-prebuilt)
#   cybrid-scan-prebuilt takes the binary from $CYBRID_SCAN_BIN, else cybrid-scan on PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="$here/target/pre-commit-venv"
if [ ! -x "$venv/bin/pre-commit" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pre-commit
fi
export PATH="$venv/bin:$PATH"
# pre-commit builds the hook with `cargo install`; share this checkout's target dir
# (where the README's install built) so dependencies compile once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
export PRE_COMMIT_HOME="$here/target/pre-commit-home"
hooks=("${@:-cybrid-scan}")
[ "$#" -gt 0 ] || hooks+=(cybrid-scan-prebuilt)

work="$(mktemp -d)"
server=""
trap '[ -z "$server" ] || kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
git init -q -b main repo && cd repo
git config user.email dev@example.com && git config user.name Dev
echo "# demo" > README.md && git add README.md && git commit -qm init

secret="k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ"
fail() { echo "pre-commit check FAILED: $*" >&2; exit 1; }

# Run one hook on the staged change: with try-repo on this checkout, or (the prebuilt
# hook) with `pre-commit run` and a config naming the snapshot, as a user's repository does.
run_hook() {
  if [ -n "${hook_config:-}" ]; then pre-commit run "$1" --config "$hook_config"; else pre-commit try-repo "$2" "$1"; fi
}

# The three checks, for one hook, from a clean index.
check_hook() {
  local hook="$1" hook_repo="${2:-$here}" out rc
  git rm -rq --cached --ignore-unmatch app.env clean.env fixture.env >/dev/null
  rm -f app.env clean.env fixture.env
  # 1. A staged secret blocks the commit.
  printf 'API_URL=https://bank.sandbox.cybrid.app\nCYBRID_CLIENT_SECRET=%s\n' "$secret" > app.env
  git add app.env
  set +e
  out="$(run_hook "$hook" "$hook_repo" 2>&1)"
  rc=$?
  set -e
  echo "$out"
  [ "$rc" -ne 0 ] || fail "$hook: a staged secret did not block the commit"
  grep -q "app.env:2:22" <<<"$out" || fail "the message does not name app.env:2:22"
  grep -q "cybrid-scan:allow" <<<"$out" || fail "the message does not say how to proceed"
  if grep -q "$secret" <<<"$out"; then fail "the secret was printed"; fi
  if grep -q "${secret:4:20}" <<<"$out"; then fail "part of the secret was printed"; fi

  # 2. A clean change passes.
  git rm -q --cached app.env && rm app.env
  echo "LOG_LEVEL=debug" > clean.env && git add clean.env
  run_hook "$hook" "$hook_repo" >/dev/null 2>&1 || fail "a clean change was blocked"

  # 3. An allowed line passes.
  printf 'CYBRID_CLIENT_SECRET=%s # cybrid-scan:allow (test fixture)\n' "$secret" > fixture.env
  git add fixture.env
  run_hook "$hook" "$hook_repo" >/dev/null 2>&1 || fail "a cybrid-scan:allow line was blocked"
  echo "pre-commit ($hook): blocked a staged secret, passed a clean change and an allowed line"
}

# A local stand-in of the GitHub releases download for the prebuilt hook.
serve_release() {
  local dir="$1" log="$2" port=""
  python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$dir" >"$log" 2>&1 &
  server=$!
  for _ in $(seq 50); do
    port="$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$log" | head -n 1)"
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || fail "the local release server did not start"
  echo "http://127.0.0.1:$port"
}

for hook in "${hooks[@]}"; do
  if [ "$hook" != cybrid-scan-prebuilt ]; then
    check_hook "$hook"
    continue
  fi
  bin="${CYBRID_SCAN_BIN:-$(command -v cybrid-scan || true)}"
  [ -x "$bin" ] || fail "cybrid-scan-prebuilt: no binary to serve (set CYBRID_SCAN_BIN or put cybrid-scan on PATH)"
  # The hook runs Cargo.toml's release.
  version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/Cargo.toml" | head -n 1)"
  grep -q "^VERSION = \"$version\"$" "$here/python/cybrid_scan_prebuilt.py" \
    || fail "python/cybrid_scan_prebuilt.py does not run version $version (Cargo.toml)"
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) target=x86_64-unknown-linux-gnu ;;
    Linux/aarch64) target=aarch64-unknown-linux-gnu ;;
    Darwin/x86_64) target=x86_64-apple-darwin ;;
    Darwin/arm64) target=aarch64-apple-darwin ;;
    *) fail "no release target for $(uname -s)/$(uname -m)" ;;
  esac
  # As release.yml packages it: cybrid-scan-<target>/cybrid-scan in a .tar.gz, and its .sha256.
  release="$work/release" && mkdir -p "$release/cybrid-scan-$target"
  cp "$bin" "$release/cybrid-scan-$target/cybrid-scan"
  (cd "$release" && tar -czf "cybrid-scan-$target.tar.gz" "cybrid-scan-$target" \
    && sha256sum "cybrid-scan-$target.tar.gz" >"cybrid-scan-$target.tar.gz.sha256")
  # The same archive with a .sha256 that names other bytes.
  bad="$work/bad-release" && mkdir -p "$bad"
  cp "$release/cybrid-scan-$target.tar.gz" "$bad/"
  printf '%064d  cybrid-scan-%s.tar.gz\n' 0 "$target" >"$bad/cybrid-scan-$target.tar.gz.sha256"
  url="$(serve_release "$work" "$work/server.log")"
  # try-repo installs the hook anew on every run; to see the binary cached, the hook runs
  # as a user's config names it: a committed snapshot of the hook's files at a rev.
  snap="$work/hook-repo"
  git clone -q --depth 1 "file://$here" "$snap"
  cp "$here/.pre-commit-hooks.yaml" "$here/pyproject.toml" "$snap/"
  rm -rf "$snap/python" && cp -r "$here/python" "$snap/python"
  git -C "$snap" add -A && git -C "$snap" -c user.name=CI -c user.email=ci@example.com commit -qm snapshot --allow-empty
  hook_config="$work/pre-commit-config.yaml"
  printf 'repos:\n  - repo: %s\n    rev: %s\n    hooks:\n      - id: cybrid-scan-prebuilt\n' \
    "$snap" "$(git -C "$snap" rev-parse HEAD)" >"$hook_config"

  # 4. Downloaded once, checked, then cached.
  export CYBRID_SCAN_DOWNLOAD_URL="$url/release"
  start=$(date +%s)
  check_hook cybrid-scan-prebuilt "$snap"
  echo "cybrid-scan-prebuilt: install and three runs in $(( $(date +%s) - start )) s"
  downloads="$(grep -c "GET /release/cybrid-scan-$target.tar.gz " "$work/server.log" || true)"
  [ "$downloads" -eq 1 ] || fail "cybrid-scan-prebuilt downloaded the archive $downloads times, expected once"
  grep -q "GET /release/cybrid-scan-$target.tar.gz.sha256 " "$work/server.log" || fail "the .sha256 was never fetched"

  # 5. A checksum that does not match: refused, nothing runs (the staged secret goes unreported).
  export CYBRID_SCAN_DOWNLOAD_URL="$url/bad-release"
  printf 'CYBRID_CLIENT_SECRET=%s\n' "$secret" > app.env && git add app.env
  set +e
  out="$(run_hook cybrid-scan-prebuilt "$snap" 2>&1)"
  rc=$?
  set -e
  echo "$out"
  [ "$rc" -ne 0 ] || fail "an archive with a wrong SHA-256 was accepted"
  grep -q "refusing to run" <<<"$out" || fail "the wrong checksum was not named"
  if grep -q "app.env" <<<"$out"; then fail "the binary ran although its checksum was wrong"; fi
  unset CYBRID_SCAN_DOWNLOAD_URL hook_config
  echo "pre-commit (cybrid-scan-prebuilt): downloaded once from the local stand-in, SHA-256 checked; a wrong checksum was refused"
done
