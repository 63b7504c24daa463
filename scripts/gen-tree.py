#!/usr/bin/env python3
"""Generate a realistic source tree for the dir benchmark.

Usage: gen-tree.py DIR [MEGABYTES]   (default 520)

About 40% source files (1-40 KB: TypeScript, Python, Go, YAML, Markdown),
60% large minified bundles (2-8 MB single-line JavaScript), with a handful of
Cybrid credentials planted so the scanner has real work to report. As real
code does, about one file in 20 says `secret` without a literal (the generic
keyword of project context), one in 500 holds a generic client id/secret pair,
the root's package.json depends on a Cybrid SDK (so those pairs are reported),
and bundles mention `clientSecret` now and then.
"""
import base64, os, random, sys

root = sys.argv[1]
target = int(sys.argv[2]) * 1024 * 1024 if len(sys.argv) > 2 else 520 * 1024 * 1024
rng = random.Random(42)
words = ("const let var function return import export from class interface async await "
         "if else for while switch case break continue new this null undefined true false "
         "user account payment transfer quote trade bank customer wallet balance amount "
         "currency request response error logger config client server handler router").split()

def text_line():
    n = rng.randint(4, 14)
    return "  " * rng.randint(0, 4) + " ".join(rng.choice(words) for _ in range(n)) + ";\n"

def secret():
    return base64.urlsafe_b64encode(rng.randbytes(32)).decode().rstrip("=")

written = 0
n_src = 0
src_budget = int(target * 0.4)
exts = [".ts", ".py", ".go", ".yaml", ".md", ".java", ".rb"]
while written < src_budget:
    d = os.path.join(root, "src", f"pkg{n_src // 200}", f"mod{(n_src // 20) % 10}")
    os.makedirs(d, exist_ok=True)
    size = rng.randint(1, 40) * 1024
    lines = []
    cur = 0
    while cur < size:
        l = text_line()
        lines.append(l)
        cur += len(l)
    if n_src % 997 == 0:
        lines.insert(len(lines) // 2, f"CYBRID_CLIENT_SECRET={secret()}\n")
    if n_src % 20 == 7:
        lines.insert(len(lines) // 3, "const clientSecret = process.env.CLIENT_SECRET;\n")
    if n_src % 500 == 13:
        lines.insert(len(lines) // 3, f"  clientId: '{secret()}',\n  clientSecret: '{secret()}',\n")
    path = os.path.join(d, f"file{n_src}{rng.choice(exts)}")
    with open(path, "w") as f:
        f.writelines(lines)
    written += cur
    n_src += 1

n_bundle = 0
os.makedirs(os.path.join(root, "dist"), exist_ok=True)
chunk = "".join(f"function {rng.choice(words)}{i}(a,b){{return a.{rng.choice(words)}(b)+{i}}};" for i in range(20000))
chunk += "function auth(o){return o.clientSecret||o.secret};"
os.makedirs(root, exist_ok=True)
with open(os.path.join(root, "package.json"), "w") as f:
    f.write('{"name": "bench", "dependencies": {"@cybrid/cybrid-api-bank-angular": "^0.123.0"}}\n')
while written < target:
    size = rng.randint(2, 8) * 1024 * 1024
    reps = max(1, size // len(chunk))
    body = chunk * reps
    if n_bundle % 7 == 0:
        mid = len(body) // 2
        body = body[:mid] + f'var c=JSON.parse(\'{{"cybridHost":"https://bank.sandbox.cybrid.app","publicClientId":"{secret()}"}}\');' + body[mid:]
    with open(os.path.join(root, "dist", f"bundle{n_bundle}.min.js"), "w") as f:
        f.write(body + "\n")
    written += len(body)
    n_bundle += 1

print(f"generated {written / 1e6:.0f} MB: {n_src} source files, {n_bundle} bundles in {root}")
