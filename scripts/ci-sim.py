#!/usr/bin/env python3
"""A simulated GitHub Actions API for scripts/bench-ci.sh (loopback only).

Serves an org `bench` of REPOS repositories with RUNS completed runs each,
Link-paginated like GitHub (100 per page); each run's logs endpoint answers
302 to a second "download host" (another port) that serves a real zip of
per-step logs: LOG_KB of timestamped CI log text per run, one run in ten
with a planted, generated (never issued) Cybrid credential pair. One zip is
built per kind (in memory, before serving) and served for every run, so the
simulator costs no CPU per byte; the scanner still downloads, inflates and
scans every run. Optional LATENCY_MS delays each answer (a simulated network).

So that the simulator is not the bottleneck: both servers are threaded
(ThreadingHTTPServer, one thread per connection), and SIM_PROCS processes
(default: the number of cores) accept on the same listening sockets, so
Python's GIL does not cap it at one core; each answer is one write with
TCP_NODELAY (a header write then a body write would meet Nagle's algorithm
and the client's delayed ACK: 40 ms per answer). The parent prints the
simulator's CPU time ("sim cpu SECONDS", all processes) on SIGUSR1 to stderr.

Usage: ci-sim.py REPOS RUNS LOG_KB [LATENCY_MS]; prints "API_URL" then serves.
"""

import base64
import io
import json
import os
import random
import signal
import socket
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs

REPOS, RUNS, LOG_KB = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
LATENCY = (int(sys.argv[4]) if len(sys.argv) > 4 else 0) / 1000.0
PER_PAGE = 100


def cred(rng):
    while True:
        v = base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")
        if v.isalnum():
            return v


def log_text(rng, kb, leak):
    lines, size, n = [], 0, 0
    steps = ["npm ci", "npm test", "docker build .", "terraform plan"]
    while size < kb * 1024:
        n += 1
        ts = "2024-05-01T10:%02d:%02d.%07dZ" % (n // 3600 % 60, n // 60 % 60, n % 10_000_000)
        if n % 500 == 1:
            line = "%s ##[group]Run %s" % (ts, rng.choice(steps))
        elif leak and n == 200:
            line = "%s CYBRID_CLIENT_ID=%s" % (ts, leak[0])
        elif leak and n == 201:
            line = "%s CYBRID_CLIENT_SECRET=%s" % (ts, leak[1])
        else:
            line = "%s \x1b[32m✓\x1b[39m test %d passed (%dms) %s" % (
                ts, n, rng.randint(1, 900), rng.choice(["", "[cache hit]", "sha256:" + "%064x" % rng.getrandbits(256)]))
        lines.append(line)
        size += len(line) + 1
    return ("\n".join(lines) + "\n").encode()


def build_zip(rng, kb, leak):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        body = log_text(rng, kb, leak)
        z.writestr("build/1_Set up job.txt", b"2024-05-01T10:00:00.0000000Z Current runner version: '2.316.0'\n")
        z.writestr("build/3_Run tests.txt", body)
    return buf.getvalue()


rng = random.Random(42)
CLEAN = build_zip(rng, LOG_KB, None)
LEAKY = build_zip(rng, LOG_KB, (cred(rng), cred(rng)))
API = {}


REASONS = {200: "OK", 302: "Found", 404: "Not Found"}


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/json", headers=()):
        if LATENCY:
            time.sleep(LATENCY)
        head = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "")),
                "Content-Type: " + ctype, "Content-Length: %d" % len(body)]
        head += ["%s: %s" % kv for kv in headers]
        # One write: status line, headers and body together.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def paged(handler, url, items, wrap):
    q = parse_qs(url.query)
    page = int(q.get("page", ["1"])[0])
    chunk = items[(page - 1) * PER_PAGE: page * PER_PAGE]
    headers = []
    if page * PER_PAGE < len(items):
        headers.append(("Link", '<%s%s?per_page=100&page=%d>; rel="next"' % (API["url"], url.path, page + 1)))
    handler.send(200, json.dumps(wrap(chunk)).encode(), headers=headers)


class ApiHandler(Quiet):
    def do_GET(self):
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if parts == ["orgs", "bench", "repos"]:
            return paged(self, url, [{"full_name": "bench/r%03d" % i} for i in range(REPOS)], lambda c: c)
        if len(parts) == 5 and parts[:2] == ["repos", "bench"] and parts[3:] == ["actions", "runs"]:
            r = int(parts[2][1:])
            runs = [{"id": r * 100000 + k, "status": "completed", "created_at": "2024-05-01T10:00:00Z",
                     "html_url": "https://github.example/bench/%s/actions/runs/%d" % (parts[2], r * 100000 + k)}
                    for k in range(RUNS, 0, -1)]
            return paged(self, url, runs, lambda c: {"total_count": len(runs), "workflow_runs": c})
        if len(parts) == 7 and parts[-1] == "jobs":
            return self.send(200, json.dumps({"total_count": 1, "jobs": [
                {"id": int(parts[5]) * 10, "name": "build",
                 "html_url": "https://github.example/bench/%s/actions/runs/%s/job/%d" % (parts[2], parts[5], int(parts[5]) * 10)}]}).encode())
        if len(parts) == 7 and parts[-1] == "logs":
            return self.send(302, b"", "text/plain", [("Location", "%s/blob/%s.zip?sig=bench" % (API["download"], parts[5]))])
        self.send(404, b'{"message":"Not Found"}')


class DownloadHandler(Quiet):
    def do_GET(self):
        run = int(urlparse(self.path).path.split("/")[-1].split(".")[0])
        self.send(200, LEAKY if run % 10 == 0 else CLEAN, "application/zip")


def bind(handler):
    s = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    s.daemon_threads = True
    s.request_queue_size = 128
    return s


def serve(servers):
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()


servers = [bind(DownloadHandler), bind(ApiHandler)]
API["download"] = "http://127.0.0.1:%d" % servers[0].server_address[1]
API["url"] = "http://127.0.0.1:%d" % servers[1].server_address[1]
procs = int(os.environ.get("SIM_PROCS", os.cpu_count() or 1))
parent = os.getpid()
children = []
for _ in range(max(procs, 1) - 1):
    pid = os.fork()
    if pid == 0:
        serve(servers)
        # A child ends with its parent (killed or not).
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)
    children.append(pid)
serve(servers)


def cpu_seconds():
    """User + system CPU of this process and its children (from /proc)."""
    total = 0
    for pid in [parent] + children:
        try:
            fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def report_cpu(*_):
    print("sim cpu %.2f" % cpu_seconds(), file=sys.stderr, flush=True)


def stop(*_):
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    os._exit(0)


signal.signal(signal.SIGUSR1, report_cpu)
signal.signal(signal.SIGTERM, stop)
print(API["url"], flush=True)
print("log text per run: %d bytes; zip: %d bytes; %d process(es)" % (LOG_KB * 1024, len(CLEAN), procs),
      file=sys.stderr, flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    stop()
