"""The `cybrid-scan-prebuilt` pre-commit hook: run the release binary of
cybrid-scan without a Rust toolchain.

On first use it downloads the release archive for this platform
(cybrid-scan-<target>.tar.gz, .zip on Windows) and its published .sha256,
refuses anything whose SHA-256 differs, and keeps the binary in the hook's
own pre-commit environment (removed by `pre-commit clean`); later commits
run it straight away. Then it runs `cybrid-scan` with the hook's arguments.

CYBRID_SCAN_DOWNLOAD_URL replaces the releases URL (the directory holding the
archives; https, or http on loopback only), e.g. for a mirror or a test.
"""

import hashlib
import ipaddress
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile

# The release this hook runs: Cargo.toml's version (scripts/test-pre-commit.sh checks it).
VERSION = "0.1.0"
RELEASES = "https://github.com/cybrid-scan/cybrid-scan/releases/download/v{version}"
MAX_ARCHIVE = 256 * 1024 * 1024
TIMEOUT = 60


class HookError(Exception):
    pass


def target():
    system, machine = platform.system(), platform.machine().lower()
    arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(machine)
    if system == "Linux" and arch:
        if platform.libc_ver()[0] not in ("glibc", ""):
            raise HookError("the release binaries need glibc; use the cybrid-scan-docker or cybrid-scan hook here")
        return arch + "-unknown-linux-gnu"
    if system == "Darwin" and arch:
        return arch + "-apple-darwin"
    if system == "Windows" and arch == "x86_64":
        return "x86_64-pc-windows-msvc"
    raise HookError(
        "no release binary for {} {}; use the cybrid-scan hook (builds with cargo) instead".format(system, machine)
    )


def base_url():
    url = os.environ.get("CYBRID_SCAN_DOWNLOAD_URL", "").strip() or RELEASES.format(version=VERSION)
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return url.rstrip("/")
    if parts.scheme == "http":
        host = parts.hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return url.rstrip("/")
    raise HookError("CYBRID_SCAN_DOWNLOAD_URL must be https (or http on loopback): {!r}".format(url))


def fetch(url, limit):
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            data = response.read(limit + 1)
    except OSError as e:
        raise HookError("cannot download {}: {}".format(url, e)) from None
    if len(data) > limit:
        raise HookError("{} is larger than {} bytes".format(url, limit))
    return data


def binary_from(archive_name, data, exe_name):
    """The binary inside a release archive (cybrid-scan-<target>/cybrid-scan)."""
    member = archive_name.rsplit(".tar.gz", 1)[0].rsplit(".zip", 1)[0] + "/" + exe_name
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.seek(0)
        if archive_name.endswith(".zip"):
            with zipfile.ZipFile(f) as z:
                for info in z.infolist():
                    if info.filename.replace("\\", "/") == member:
                        return z.read(info)
        else:
            with tarfile.open(fileobj=f, mode="r:gz") as t:
                try:
                    entry = t.extractfile(member)
                except KeyError:
                    entry = None
                if entry is not None:
                    return entry.read()
    raise HookError("{} has no {}".format(archive_name, member))


def cache_dir():
    # Inside pre-commit, sys.prefix is this hook's environment in pre-commit's cache.
    for d in (os.path.join(sys.prefix, "cybrid-scan"), os.path.join(os.path.expanduser("~"), ".cache", "cybrid-scan")):
        try:
            os.makedirs(d, exist_ok=True)
            if os.access(d, os.W_OK):
                return d
        except OSError:
            continue
    raise HookError("no writable directory to keep the downloaded binary in")


def install():
    tgt = target()
    exe_name = "cybrid-scan.exe" if tgt.endswith("windows-msvc") else "cybrid-scan"
    url = base_url()
    where = os.path.join(cache_dir(), hashlib.sha256(url.encode()).hexdigest()[:16], tgt)
    path = os.path.join(where, exe_name)
    if os.path.isfile(path):
        return path
    archive = "cybrid-scan-{}.{}".format(tgt, "zip" if tgt.endswith("windows-msvc") else "tar.gz")
    data = fetch(url + "/" + archive, MAX_ARCHIVE)
    published = fetch(url + "/" + archive + ".sha256", 4096).decode("utf-8", "replace").split()
    expected = published[0].lower() if published else ""
    actual = hashlib.sha256(data).hexdigest()
    if len(expected) != 64 or expected != actual:
        raise HookError(
            "{}: SHA-256 is {}, but {}.sha256 says {!r}; refusing to run it".format(archive, actual, archive, expected)
        )
    binary = binary_from(archive, data, exe_name)
    os.makedirs(where, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=where)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(binary)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print("cybrid-scan-prebuilt: installed cybrid-scan {} ({}, SHA-256 checked)".format(VERSION, tgt), file=sys.stderr)
    return path


def main():
    try:
        path = install()
    except HookError as e:
        print("cybrid-scan-prebuilt: {}".format(e), file=sys.stderr)
        return 2
    args = [path] + sys.argv[1:]
    if os.name == "nt":
        return subprocess.call(args)
    os.execv(path, args)
    return 2  # not reached


if __name__ == "__main__":
    sys.exit(main())
