#!/usr/bin/env bash
# Wall time of the pre-commit hook's command (`cybrid-scan git --staged --format hook`), process start
# included, on a commit touching 3 files in a repository of 10,000 files. Target: under 200 ms.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here" && cargo build --release --quiet
bin="$here/target/release/cybrid-scan"
repo="$here/target/bench-hook-repo"
if [ ! -d "$repo/.git" ]; then
  mkdir -p "$repo" && cd "$repo"
  git init -q -b main . && git config user.email b@example.com && git config user.name Bench
  python3 - <<'PY'
import os, random
rng = random.Random(7)
words = "const let return import export function class bank account transfer quote".split()
for i in range(10000):
    d = f"src/m{i // 100}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i}.ts", "w") as f:
        for _ in range(rng.randint(20, 120)):
            f.write(" ".join(rng.choice(words) for _ in range(8)) + ";\n")
PY
  git add -A && git commit -qm "10,000 files"
fi
cd "$repo"
git reset -q --hard
for i in 1 2 3; do echo "export const changed$i = $RANDOM;" >> "src/m$i/f${i}00.ts"; done
printf 'CYBRID_CLIENT_SECRET=k3Jd8sPq0ZxY7wVu6TsRq5PoNm4LkJi3HgF2eDc1BaZ\n' > src/m1/new.env
git add -A
echo "files in HEAD: $(git ls-files | wc -l); staged: $(git diff --cached --name-only | wc -l)"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 3 --runs 30 -i -N "$bin git --staged --format hook"
else
  for _ in 1 2 3 4 5; do /usr/bin/time -f "%e s wall, %M KB peak RSS" "$bin" git --staged --format hook >/dev/null || true; done
fi
git reset -q --hard
