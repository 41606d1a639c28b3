"""An oversized unsigned body costs the bot no more than the size cap (bot/http_guard.py and
waitress' max_request_body_size in bot/app.py). Before, a 128 MB body raised the process's
memory by 390 MB before its 401. Measured on a bot process of its own through
/proc/<pid>/status: VmHWM is the peak resident size, so even a short-lived buffer shows."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BODY_MB = 64
ROOT = Path(__file__).resolve().parents[2]


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def post_big(url: str, *, chunked: bool) -> int | None:
    """POST BODY_MB of unsigned bytes; the status line, if the server answered one."""
    parts = urlsplit(url)
    head = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n")
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {BODY_MB << 20}\r\n\r\n"
    block = b"a" * (1 << 20)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as s:
        try:
            s.sendall(head.encode())
            for _ in range(BODY_MB):
                s.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed early: what we want
        try:
            first = s.recv(64)
        except OSError:
            return None
    return int(first.split()[1]) if first.startswith(b"HTTP/") else None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_64_mb_unsigned_body_does_not_grow_the_bot(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.serve_http_bot"], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        url, pid = info["url"], info["pid"]
        # Warm up: one small refused request, so lazy imports and buffers are counted before.
        assert _small(url) == 401
        time.sleep(0.2)
        before = peak_rss_kb(pid)
        statuses = [post_big(url, chunked=False), post_big(url, chunked=True)]
        time.sleep(0.3)
        grown_mb = (peak_rss_kb(pid) - before) / 1024
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert statuses[0] == 413                       # Content-Length over the cap: refused unread
    assert statuses[1] in (413, None)               # chunked: refused at the cap (maybe mid-send)
    assert grown_mb <= 4, f"peak RSS grew {grown_mb:.1f} MB for {BODY_MB} MB bodies"


def _small(url: str) -> int:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=b"a=1", method="POST",
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
