"""The shipped nginx config (deploy/nginx/nginx.conf) run in front of the test gateway.

Only the upstream address, the listen port, the temp paths and (to keep the test short) the
two client timeouts are rewritten; everything else is the file compose.yaml and the
Kubernetes pod mount. Slow clients are held by nginx, the gateway sees none of them; bodies
over the limit are refused in the API's JSON envelope, clients silent past the deadline cut.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from gateway.forms import upload_body_limit
from shared.config import Settings
from tools.stack.processes import REPO, free_port, wait_for_port

CONF = REPO / "deploy" / "nginx" / "nginx.conf"
TEST_TIMEOUT = 2  # seconds, in place of the shipped 10 s


def test_shipped_limits_match_the_gateway() -> None:
    text = CONF.read_text()
    assert re.search(r"^\s*proxy_request_buffering on;", text, re.M)
    assert re.search(r"^\s*client_header_timeout 10s;", text, re.M)
    assert re.search(r"^\s*client_body_timeout 10s;", text, re.M)
    mib = int(re.search(r"client_max_body_size (\d+)m;", text).group(1))
    limit = upload_body_limit(Settings())
    # Room for the largest body the gateway reads, and not a MiB more.
    assert limit <= mib * 1024 * 1024 < limit + 1024 * 1024
    read = int(re.search(r"proxy_read_timeout (\d+)s;", text).group(1))
    assert read > Settings().request_timeout_seconds


@pytest.fixture(scope="module")
def proxy(gateway_url: str) -> Iterator[str]:
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is not installed: run tools/setup.sh (Debian package nginx-light)")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root = Path(tempfile.mkdtemp(prefix="bgr-nginx-"))
    root.chmod(0o777)  # noqa: S103 - nginx's workers (nobody, when we are root) write here
    port = free_port()
    text = CONF.read_text()
    text = text.replace("server gateway:8000;", f"server {gateway_url.removeprefix('http://')};")
    text = text.replace("listen 8080;", f"listen 127.0.0.1:{port};")
    text = text.replace("/tmp/", f"{root}/")
    text = re.sub(r"client_(header|body)_timeout 10s;", rf"client_\1_timeout {TEST_TIMEOUT}s;",
                  text)
    conf = root / "nginx.conf"
    conf.write_text(text)
    proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(root), "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=(root / "err.log").open("w"))
    try:
        wait_for_port(port, proc, "nginx", timeout=20)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


def _inflight(gateway_url: str) -> float:
    for line in requests.get(f"{gateway_url}/metrics", timeout=10).text.splitlines():
        if line.startswith("bgremove_requests_inflight "):
            return float(line.split()[1])
    raise AssertionError("bgremove_requests_inflight not exported")


def _raw(port: int, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(data)
    return sock


def test_requests_pass_through(proxy: str) -> None:
    resp = requests.get(f"{proxy}/healthz", timeout=10)
    assert resp.status_code == 200
    assert resp.headers.get("X-Request-ID")  # the gateway answered, through nginx
    resp = requests.post(f"{proxy}/api/token", json={"key": "nope"}, timeout=10)
    assert resp.status_code == 401 and resp.json()["success"] is False


def test_body_over_the_limit_is_413_in_the_envelope(proxy: str) -> None:
    port = int(proxy.rsplit(":", 1)[1])
    sock = _raw(port, b"POST /api/v1/image/remove-background HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 40000000\r\n\r\n")
    sock.settimeout(10)
    answer = sock.recv(65536)
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b'"code": "payload_too_large"' in body


def test_slow_bodies_are_held_by_nginx_not_the_gateway(proxy: str, gateway_url: str) -> None:
    port = int(proxy.rsplit(":", 1)[1])
    slow = [_raw(port, b"POST /api/v1/image/remove-background HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
            for _ in range(50)]
    try:
        for _ in range(3):  # a byte a second each: within nginx's body timeout
            time.sleep(TEST_TIMEOUT / 2)
            for sock in slow:
                sock.sendall(b" ")
            assert _inflight(gateway_url) == 0  # none of them reached gunicorn
            assert requests.get(f"{proxy}/healthz", timeout=10).status_code == 200
    finally:
        for sock in slow:
            sock.close()


def test_silent_body_is_cut_at_the_deadline(proxy: str, gateway_url: str) -> None:
    """nginx drops a body that stops arriving (it logs 408 and closes: no answer is sent)."""
    port = int(proxy.rsplit(":", 1)[1])
    sock = _raw(port, b"POST /api/v1/image/remove-background HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
    sock.settimeout(TEST_TIMEOUT * 10)
    started = time.monotonic()
    assert _inflight(gateway_url) == 0
    answer = sock.recv(65536)
    took = time.monotonic() - started
    sock.close()
    assert answer == b"", answer[:200]  # closed, and the gateway never saw the request
    assert took >= TEST_TIMEOUT - 0.1
    assert took < TEST_TIMEOUT * 5
