#!/usr/bin/env bash
# Benchmark `cybrid-scan image` on a generated `docker save` archive (one
# layer of source-like files, plain tar and gzip), next to `tar -xOf` of the
# same layer (every file's bytes to /dev/null), from the page cache.
#
#   scripts/bench-image.sh [SIZE_MB] [WORKDIR]     (defaults: 600 MB, a temp dir)
#
# Prints, for each, the best of 3 runs: wall and CPU (user+system) seconds,
# MB/s of uncompressed layer data, and peak RSS. Target (issue #31): at least
# 500 MB/s of uncompressed layer data. TruffleHog and Kingfisher are run on
# the same archive when they are installed.
set -euo pipefail

size_mb=${1:-600}
work=${2:-$(mktemp -d)}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BIN:-$here/target/release/cybrid-scan}

if [ ! -x "$bin" ] || [ -n "${BENCH_BUILD:-}" ]; then
  (cd "$here" && cargo build --release --bin cybrid-scan)
fi
mkdir -p "$work"

if [ ! -s "$work/plain.tar" ]; then
  echo "generating a ~${size_mb} MB layer in $work ..." >&2
  python3 "$here/scripts/gen-tree.py" "$work/tree" "$size_mb" >/dev/null
  python3 - "$work" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
work = sys.argv[1]
tree = os.path.join(work, "tree")
layer = os.path.join(work, "layer.tar")
with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as t:
    t.add(tree, arcname="app")
with open(layer, "rb") as f, gzip.open(layer + ".gz", "wb", compresslevel=6) as g:
    while chunk := f.read(1 << 20):
        g.write(chunk)
def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()
diff_id = sha(layer)
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "config": {"Env": ["PATH=/usr/bin"]},
                     "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                     "history": [{"created_by": "COPY app /app"}]}).encode()
for name, member in (("plain.tar", "layer.tar"), ("gzip.tar", "layer.tar.gz")):
    with tarfile.open(os.path.join(work, name), "w") as out:
        def put(arcname, data=None, path=None):
            if path:
                out.add(path, arcname=arcname)
            else:
                info = tarfile.TarInfo(arcname); info.size = len(data)
                out.addfile(info, io.BytesIO(data))
        put("config.json", config)
        put(member, path=os.path.join(work, member))
        put("manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["bench:1"],
                                           "Layers": [member]}]).encode())
PY
  rm -rf "$work/tree"
fi
layer_bytes=$(stat -c %s "$work/layer.tar")

python3 - "$bin" "$work" "$layer_bytes" <<'PY'
import os, shutil, subprocess, sys, time
bin_, work, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
def run(label, argv):
    best_w = best_c = float("inf"); rss = 0
    for _ in range(3):
        t = time.time()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        w = time.time() - t
        c = ru.ru_utime + ru.ru_stime
        best_w, best_c, rss = min(best_w, w), min(best_c, c), max(rss, ru.ru_maxrss)
    print(f"{label:34} wall {best_w:6.2f} s  cpu {best_c:6.2f} s  {size / best_w / 1e6:7.0f} MB/s  peak RSS {rss / 1024:6.1f} MB", flush=True)
    return best_w
print(f"layer: {size / 1e6:.0f} MB uncompressed")
for name, member, z in (("plain.tar", "layer.tar", ""), ("gzip.tar", "layer.tar.gz", "z")):
    archive = os.path.join(work, name)
    subprocess.run(["cat", archive], stdout=subprocess.DEVNULL)  # into the page cache
    ours = run(f"cybrid-scan image ({name})", [bin_, "image", "-q", "-f", "json", f"docker-archive:{archive}"])
    # bash -c: the pipeline's CPU is the shell's children's, which wait4 of bash includes.
    tar = run(f"tar -xOf | tar -x{z}Of ({name})",
              ["bash", "-c", f"tar -xOf {archive} {member} | tar -x{z}Of - >/dev/null"])
    print(f"{'':34} ratio to tar: {ours / tar:.2f}x")
    for tool, argv in (("trufflehog", ["trufflehog", "docker", "--image", f"file://{archive}", "--no-verification", "--json"]),
                       ("kingfisher", ["kingfisher", "scan", archive, "--no-validate", "--format", "json"])):
        if shutil.which(tool):
            run(f"{tool} ({name})", argv)
        else:
            print(f"{tool:34} not installed: not measured")
print("load average:", open("/proc/loadavg").read().strip())
PY
