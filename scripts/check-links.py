#!/usr/bin/env python3
"""Check the relative links of the repository's Markdown.

Every relative link and image in README.md, docs/**/*.md, SECURITY.md and
CHANGELOG.md must name a file (or directory) that exists in the repository,
and a `#fragment` must name a heading of the target page (GitHub's slugs:
lowercase, spaces to '-', punctuation dropped except '-' and '_'; repeated
headings get -1, -2, ...). No page may point outside the repository: a link
that climbs above the repository root, or any mention of `../shared`,
`INTERFACE.md` or `CYBRID.md` (files that exist only outside it), fails.

Usage: scripts/check-links.py [ROOT]   (default: the repository of this script)
Exit status 0 when every link resolves, 1 with the broken ones listed.
Python 3 standard library only.
"""

import os
import re
import sys
from urllib.parse import unquote

FORBIDDEN = [
    (re.compile(r"\.\./shared"), "refers to ../shared, outside the repository"),
    (re.compile(r"INTERFACE\.md"), "refers to INTERFACE.md, which is not in the repository"),
    (re.compile(r"CYBRID\.md"), "refers to CYBRID.md, which is not in the repository"),
]

# [text](target "title") and ![alt](target); the target may be wrapped in <>.
INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^()\s]*(?:\([^()\s]*\)[^()\s]*)*)(?:\s+\"[^\"]*\"|\s+'[^']*')?\s*\)")
# [label]: target   (reference definitions)
REFDEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.M)
# <img src="..."> and <a href="...">
HTML = re.compile(r"<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.I)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.I)


def files_to_check(root):
    out = []
    for name in ("README.md", "SECURITY.md", "CHANGELOG.md"):
        if os.path.isfile(os.path.join(root, name)):
            out.append(name)
    docs = os.path.join(root, "docs")
    for dirpath, dirnames, filenames in os.walk(docs):
        dirnames.sort()
        for f in sorted(filenames):
            if f.endswith(".md"):
                out.append(os.path.relpath(os.path.join(dirpath, f), root))
    return out


def strip_code(text, spans=True):
    """Blank out fenced code blocks and (with `spans`) inline code spans: links
    there are not links. Line numbers are kept."""
    lines = text.split("\n")
    out = []
    fence = None
    for line in lines:
        m = re.match(r"^ {0,3}(`{3,}|~{3,})", line)
        if fence:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            out.append("")
            continue
        if m:
            fence = m.group(1)
            out.append("")
            continue
        if spans:
            line = re.sub(r"(`+)(?:(?!\1).)+?\1", lambda s: " " * len(s.group(0)), line)
        out.append(line)
    return "\n".join(out)


def slug(heading):
    """GitHub's anchor for a heading's text."""
    text = heading.strip()
    # Rendered text: drop link targets and images, keep link text; drop code backticks and emphasis.
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = text.replace("`", "")
    text = text.lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


_anchor_cache = {}


def anchors(path):
    if path in _anchor_cache:
        return _anchor_cache[path]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = set()
    counts = {}
    for line in strip_code(text, spans=False).split("\n"):
        m = HEADING.match(line)
        if m:
            base = slug(m.group(2))
            n = counts.get(base, 0)
            counts[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    # Headings inside code were blanked by strip_code; explicit HTML anchors count too.
    for m in HTML_ANCHOR.finditer(text):
        found.add(m.group(1))
    _anchor_cache[path] = found
    return found


def is_external(target):
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)) or target.startswith("//")


def check_file(root, rel):
    problems = []
    path = os.path.join(root, rel)
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    for lineno, line in enumerate(raw.split("\n"), 1):
        for pattern, why in FORBIDDEN:
            if pattern.search(line):
                problems.append(f"{rel}:{lineno}: {why}")
    text = strip_code(raw)
    targets = []
    for regex in (INLINE, REFDEF, HTML):
        for m in regex.finditer(text):
            lineno = text.count("\n", 0, m.start()) + 1
            targets.append((lineno, m.group(1).strip("<>")))
    for lineno, target in targets:
        if not target or is_external(target):
            continue
        where = f"{rel}:{lineno}: ({target})"
        target_path, _, fragment = target.partition("#")
        target_path = unquote(target_path.split("?")[0])
        if target_path:
            if target_path.startswith("/"):
                resolved = os.path.normpath(os.path.join(root, target_path.lstrip("/")))
            else:
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), target_path))
            if os.path.relpath(resolved, root).startswith(".."):
                problems.append(f"{where} points outside the repository")
                continue
            if not os.path.exists(resolved):
                problems.append(f"{where} no such file: {os.path.relpath(resolved, root)}")
                continue
        else:
            resolved = path
        if fragment:
            if os.path.isdir(resolved) or not resolved.endswith(".md"):
                continue  # GitHub's own anchors (line numbers of code files) are not checked
            if unquote(fragment) not in anchors(resolved):
                problems.append(
                    f"{where} no heading #{fragment} in {os.path.relpath(resolved, root)}"
                )
    return problems, len(targets)


def main():
    root = os.path.abspath(
        sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
    )
    problems = []
    checked = 0
    files = files_to_check(root)
    for rel in files:
        p, n = check_file(root, rel)
        problems += p
        checked += n
    if problems:
        print(f"check-links: {len(problems)} broken link(s) or outside reference(s):", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"check-links: {checked} link(s) in {len(files)} file(s), all resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
