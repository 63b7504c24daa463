#!/usr/bin/env bash
# Benchmark `cybrid-scan git` (full history) against the cost of reading every
# object once: `git cat-file --batch-all-objects --batch > /dev/null`.
#
#   scripts/bench-git.sh [REPO]
#   BENCH_SHAPE=sdk scripts/bench-git.sh
#
# With no REPO, a repository is generated (git fast-import, then packed)
# under target/bench-git/:
# - BENCH_SHAPE=churn (default): a long history with realistic churn, a few
#   files edited per commit, packed like any fetched clone;
# - BENCH_SHAPE=sdk: a regenerated SDK, every file rewritten a little in each
#   commit (BENCH_COMMITS=2000 releases of BENCH_FILES=300 files), then
#   `git repack -adf --depth=50 --window=250` as a server does: long delta
#   chains, most of the inflated bytes coming from deltas.
# Prints both times, the ratio (target: <= 0.55) and the peak RSS of each,
# and, when on PATH, Kingfisher's and Nosey Parker's. Uses the release build.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
shape=${BENCH_SHAPE:-churn}
case "$shape" in
  churn) commits=${BENCH_COMMITS:-6000}; files=${BENCH_FILES:-3000} ;;
  sdk) commits=${BENCH_COMMITS:-2000}; files=${BENCH_FILES:-300} ;;
  *) echo "BENCH_SHAPE must be churn or sdk" >&2; exit 2 ;;
esac
runs=${BENCH_RUNS:-3}

repo=${1:-}
if [ -z "$repo" ] && [ "$shape" = sdk ]; then
  repo="$here/target/bench-git/sdk-$commits-$files.git"
  if [ ! -d "$repo" ]; then
    echo "generating $repo ($commits regenerations of $files files)..." >&2
    mkdir -p "$(dirname "$repo")"
    git init -q --bare "$repo"
    python3 - "$commits" "$files" <<'PY' | git -C "$repo" fast-import --quiet
import random, sys
commits, nfiles = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(11)
fields = ("guid type state created_at updated_at customer_guid bank_guid asset amount fee "
          "side symbol quote_guid trade_guid external_bank_account_guid counterparty_guid "
          "label labels page per_page total objects platform_balance platform_available").split()
def model(i):
    name = f"Model{i}"
    lines = [f'"""', f"    Cybrid Bank API", f"    The version of the OpenAPI document: v0.0.1",
             f'"""', f"import re", f"import sys", f"from cybrid_api_bank.model_utils import (",
             f"    ApiTypeError, ModelComposed, ModelNormal, ModelSimple, cached_property,", ")", "",
             f"class {name}(ModelNormal):"]
    for f in rng.sample(fields, rng.randint(4, 12)):
        lines += [f"    @cached_property", f"    def {f}(self):", f'        """{f} of the {name}."""',
                  f"        return self._data_store.get('{f}')", ""]
    return lines
files = {f"cybrid_api_bank/model/model_{i}.py": model(i) for i in range(nfiles)}
out = sys.stdout.buffer
t = 1_600_000_000
for c in range(commits):
    t += rng.randint(600, 90000)
    version = f"0.{c // 50}.{c % 50}"
    msg = f"Release {version}".encode()
    out.write(b"commit refs/heads/main\n")
    out.write(f"committer Generator <gen@example.com> {t} +0000\n".encode())
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    for path, body in files.items():
        # Every release regenerates every file: the version line changes, and
        # now and then a field is added or a docstring reworded.
        body[2] = f"    The version of the OpenAPI document: v{version}"
        if rng.random() < 0.05:
            at = rng.randrange(11, len(body) + 1)
            f = rng.choice(fields)
            body[at:at] = [f"    @cached_property", f"    def {f}_{c}(self):",
                           f'        """{f} (since {version})."""',
                           f"        return self._data_store.get('{f}_{c}')", ""]
        data = ("\n".join(body) + "\n").encode()
        out.write(f"M 100644 inline {path}\n".encode())
        out.write(b"data %d\n" % len(data))
        out.write(data)
    out.write(b"\n")
    if c % 100 == 99:
        out.write(f"reset refs/tags/v{version}\nfrom refs/heads/main\n\n".encode())
PY
    git -C "$repo" repack -adf -q --depth=50 --window=250
    git -C "$repo" count-objects -vH >&2
  fi
fi
if [ -z "$repo" ]; then
  repo="$here/target/bench-git/history-$commits.git"
  if [ ! -d "$repo" ]; then
    echo "generating $repo ($commits commits, $files files)..." >&2
    mkdir -p "$(dirname "$repo")"
    git init -q --bare "$repo"
    python3 - "$commits" "$files" <<'PY' | git -C "$repo" fast-import --quiet
import random, sys
commits, nfiles = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(7)
words = ("let mut self fn return match impl pub struct enum use crate config value "
         "client request response error result option string vec map iter into from "
         "token secret account bank customer trade quote transfer wallet balance asset "
         "if else for while loop break continue async await move ref where type").split()
dirs = [f"src/{a}/{b}" for a in ("api", "core", "db", "net", "ui", "util", "jobs", "auth")
        for b in ("model", "service", "handler", "test", "view", "store", "codec", "io")]
dirs += ["docs", "config", "scripts", "tests/fixtures"]
def line():
    return ("    " * rng.randint(0, 3) + " ".join(rng.choice(words) for _ in range(rng.randint(3, 12))))
def newfile():
    return [line() for _ in range(rng.randint(40, 400))]
files = {}
for i in range(nfiles):
    files[f"{rng.choice(dirs)}/file_{i}.rs"] = newfile()
out = sys.stdout.buffer
mark = 0
def emit_commit(ref, changes, deletes, t, parents=()):
    global mark
    mark += 1
    msg = f"change {mark}".encode()
    out.write(f"commit {ref}\nmark :{mark}\n".encode())
    out.write(f"author Dev {mark % 17} <dev{mark % 17}@example.com> {t} +0000\n".encode())
    out.write(f"committer Dev {mark % 17} <dev{mark % 17}@example.com> {t} +0000\n".encode())
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    for p in parents:
        out.write(f"merge :{p}\n".encode())
    for path in deletes:
        out.write(f"D {path}\n".encode())
    for path in changes:
        data = ("\n".join(files[path]) + "\n").encode()
        out.write(f"M 100644 inline {path}\n".encode())
        out.write(b"data %d\n" % len(data))
        out.write(data)
    out.write(b"\n")
    return mark
t = 1_500_000_000
emit_commit("refs/heads/main", sorted(files), [], t)
side = None
for c in range(1, commits):
    t += rng.randint(60, 20000)
    changes, deletes = set(), []
    for _ in range(rng.randint(1, 6)):
        path = rng.choice(list(files))
        body = files[path]
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            pos = rng.randrange(len(body) + 1)
            if op < 0.5 or not body:
                body.insert(pos, line())
            elif op < 0.8:
                body[min(pos, len(body) - 1)] = line()
            else:
                del body[min(pos, len(body) - 1)]
        changes.add(path)
    if rng.random() < 0.08:
        path = f"{rng.choice(dirs)}/file_{nfiles + c}.rs"
        files[path] = newfile()
        changes.add(path)
    if rng.random() < 0.02 and len(files) > 100:
        gone = rng.choice([p for p in files if p not in changes])
        del files[gone]
        deletes.append(gone)
    ref = "refs/heads/main"
    if c % 400 == 0:
        out.write(f"tag v{c // 400}.0\nfrom refs/heads/main\ntagger Rel <rel@example.com> {t} +0000\ndata 4\nrel\n\n".encode())
    emit_commit(ref, sorted(changes), deletes, t)
out.write(b"reset refs/heads/release\nfrom refs/heads/main\n\n")
PY
    git -C "$repo" repack -a -d -q --window=50 --depth=50
    git -C "$repo" count-objects -vH >&2
  fi
fi

bin=${BIN:-"$here/target/release/cybrid-scan"}
(cd "$here" && cargo build --release --quiet)

peak() { # command... -> prints "seconds peak_kb": best time and highest RSS of $runs runs
  local best="" best_rss=0 log
  log=$(mktemp)
  for _ in $(seq "$runs"); do
    /usr/bin/time -o "$log" -f '%e %M' "$@" > /dev/null 2>&1 || true
    local secs rss
    read -r secs rss < "$log"
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; fi
    if [ "$rss" -gt "$best_rss" ]; then best_rss=$rss; fi
  done
  rm -f "$log"
  echo "$best $best_rss"
}

objects=$(git -C "$repo" count-objects -v | awk '/^(count|in-pack):/ {n += $2} END {print n}')
bytes=$(git -C "$repo" cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' | awk '$1 == "blob" {n += $2} END {print n}')
read -r git_s git_kb < <(peak sh -c "git -C '$repo' cat-file --batch-all-objects --batch > /dev/null")
read -r our_s our_kb < <(peak "$bin" git --quiet --format json "$repo")
ratio=$(awk "BEGIN{printf \"%.2f\", $our_s / $git_s}")
# Other scanners, when installed, on the same repository in the same run.
others=()
if command -v kingfisher > /dev/null; then
  read -r kf_s kf_kb < <(peak kingfisher scan --git-history=full --no-update-check --no-validate "$repo")
  others+=("kingfisher scan:                         ${kf_s}s, peak RSS $((kf_kb / 1024)) MB ($(awk "BEGIN{printf \"%.2f\", $kf_s / $git_s}")x cat-file)")
fi
if command -v noseyparker > /dev/null; then
  np_store=$(mktemp -d)
  read -r np_s np_kb < <(peak sh -c "rm -rf '$np_store/ds'; noseyparker scan --datastore '$np_store/ds' '$repo'")
  rm -rf "$np_store"
  others+=("noseyparker scan:                        ${np_s}s, peak RSS $((np_kb / 1024)) MB ($(awk "BEGIN{printf \"%.2f\", $np_s / $git_s}")x cat-file)")
fi
mbps=$(awk "BEGIN{printf \"%.0f\", $bytes / 1e6 / $our_s}")
echo "repository: $repo ($objects objects, $(awk "BEGIN{printf \"%.0f\", $bytes/1e6}") MB of blobs)"
echo "git cat-file --batch-all-objects --batch: ${git_s}s, peak RSS $((git_kb / 1024)) MB"
echo "cybrid-scan git:                         ${our_s}s, peak RSS $((our_kb / 1024)) MB, ${mbps} MB/s of blobs"
for line in "${others[@]}"; do echo "$line"; done
echo "ratio: ${ratio}x (target <= 0.55x); best of $runs runs"
