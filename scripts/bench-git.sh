#!/usr/bin/env bash
# Benchmark `cybrid-scan git` (full history) against the cost of reading every
# object once: `git cat-file --batch-all-objects --batch > /dev/null`.
#
#   scripts/bench-git.sh [REPO]
#
# With no REPO, a repository with a long history and realistic churn is
# generated (git fast-import, then packed like any fetched clone) under
# target/bench-git/. Prints both times, the ratio (target: <= 0.55) and the
# peak RSS of each. Uses the release build.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
commits=${BENCH_COMMITS:-6000}
files=${BENCH_FILES:-3000}
runs=${BENCH_RUNS:-3}

repo=${1:-}
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
mbps=$(awk "BEGIN{printf \"%.0f\", $bytes / 1e6 / $our_s}")
echo "repository: $repo ($objects objects, $(awk "BEGIN{printf \"%.0f\", $bytes/1e6}") MB of blobs)"
echo "git cat-file --batch-all-objects --batch: ${git_s}s, peak RSS $((git_kb / 1024)) MB"
echo "cybrid-scan git:                         ${our_s}s, peak RSS $((our_kb / 1024)) MB, ${mbps} MB/s of blobs"
echo "ratio: ${ratio}x (target <= 0.55x); best of $runs runs"
