"""Unit tests for worker.fetch against loopback-only test servers; nothing leaves the machine."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from shared.config import Settings
from shared.errors import InputRefused, InputTooLarge, InputUnreachable
from tests.netutil import Recorder
from worker import fetch
from worker.fetch import fetch_image

pytestmark = [pytest.mark.unit, pytest.mark.timeout(30)]

IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8  # the bytes only need to round-trip
LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"),
            ipaddress.ip_network("0.0.0.0/32"))
STOP = threading.Event()  # set at teardown: drip and hold handlers give up


def settings(allow: tuple = (ipaddress.ip_network("127.0.0.0/8"),), **kw: Any) -> Settings:
    """Small limits so every failure case ends within a few seconds."""
    base: dict[str, Any] = {"input_connect_timeout": 0.5, "input_read_timeout": 1.0,
                            "input_max_bytes": 4096, "input_max_redirects": 3}
    return Settings(app_env="development", input_allow_networks=allow, **{**base, **kw})


class Handler(BaseHTTPRequestHandler):
    """Routes of the test server; the last request's headers are kept for assertions."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, dict[str, str]]] = []

    def log_message(self, *args: Any) -> None:
        """Quiet."""

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _hold(self) -> None:
        STOP.wait(10)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        """Serve one route."""
        self.seen.append((self.path, dict(self.headers)))
        path, _, query = self.path.partition("?")
        self.close_connection = True
        if path == "/image.png":
            self._send(200, IMAGE, Content_Type="image/png")
        elif path.startswith("/redirect/"):
            n = int(path.rsplit("/", 1)[1])
            self._send(302, Location="/image.png" if n <= 1 else f"/redirect/{n - 1}")
        elif path == "/goto":  # absolute redirect to whatever URL the query holds
            self._send(307, Location=query)
        elif path == "/no-location":
            self._send(302)
        elif path in ("/missing", "/error"):
            self._send(404 if path == "/missing" else 500, b"nope")
        elif path == "/exact":
            self._send(200, b"x" * 4096)
        elif path == "/huge-length":  # announces 10 GB, then stalls: refuse without reading
            self.send_response(200)
            self.send_header("Content-Length", str(10**10))
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self._hold()
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"400\r\n" + b"y" * 1024 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/until-close":  # no length: the body ends when the server closes
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"z" * 50_000)
        elif path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"only ten b")
        elif path in ("/drip", "/drip-headers"):
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"
            if path == "/drip":
                self.wfile.write(head)
                head = b""
            for byte in head + b"d" * 100:  # one byte every 0.5 s: each read is "on time"
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                if STOP.wait(0.5):
                    return
        else:
            self._send(418)


def _serve(host: str, tls: ssl.SSLContext | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    server.handle_error = lambda *a: None  # type: ignore[method-assign] # clients hang up
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[str, str]]:
    """Two HTTP servers on different loopback ports; yields their base URLs."""
    STOP.clear()
    one, two = _serve("127.0.0.1"), _serve("127.0.0.1")
    yield (f"http://127.0.0.1:{one.server_port}", f"http://127.0.0.1:{two.server_port}")
    STOP.set()
    for server in (one, two):
        server.shutdown()
        server.server_close()


@pytest.fixture
def no_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test."""
    def boom(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"a connection was attempted: {args!r}")
    monkeypatch.setattr(socket, "create_connection", boom)
    monkeypatch.setattr(http.client.HTTPConnection, "connect", boom)


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Resolve the given names to successive answers (last one repeats); returns the call log."""
    real, calls = socket.getaddrinfo, []

    def resolve(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        ip = answers[host][min(len(calls), len(answers[host])) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return calls


# ---------------------------------------------------------------- happy paths

def test_fetches_image_with_user_agent_and_host(servers: tuple[str, str]) -> None:
    assert fetch_image(servers[0] + "/image.png", settings()) == IMAGE
    path, headers = Handler.seen[-1]
    assert path == "/image.png"
    assert headers["User-Agent"] == "bgremove-fetch/0.1"
    assert headers["Host"] == servers[0].removeprefix("http://")


def test_body_of_exactly_the_limit_is_accepted(servers: tuple[str, str]) -> None:
    assert fetch_image(servers[0] + "/exact", settings()) == b"x" * 4096


def test_redirect_chain_up_to_the_limit(servers: tuple[str, str]) -> None:
    assert fetch_image(servers[0] + "/redirect/3", settings()) == IMAGE
    with pytest.raises(InputUnreachable, match="redirected more than 3"):
        fetch_image(servers[0] + "/redirect/4", settings())


def test_redirect_to_another_loopback_port_when_allowed(servers: tuple[str, str]) -> None:
    Handler.seen.clear()
    assert fetch_image(f"{servers[0]}/goto?{servers[1]}/image.png", settings()) == IMAGE
    assert [p for p, _ in Handler.seen] == [f"/goto?{servers[1]}/image.png", "/image.png"]
    assert Handler.seen[-1][1]["Host"] == servers[1].removeprefix("http://")


# ---------------------------------------------------------------- HTTP failures

@pytest.mark.parametrize(("path", "error", "text"), [
    ("/missing", InputUnreachable, "HTTP 404"),
    ("/error", InputUnreachable, "HTTP 500"),
    ("/no-location", InputUnreachable, "without a Location"),
    ("/short", InputUnreachable, "closed the connection early"),
    ("/huge-length", InputTooLarge, "larger than 4096 bytes"),
    ("/chunked", InputTooLarge, "larger than 4096 bytes"),
    ("/until-close", InputTooLarge, "larger than 4096 bytes"),
    ("/goto?file:///etc/passwd", InputRefused, "Only http and https"),
])
def test_http_failures(servers: tuple[str, str], path: str, error: type, text: str) -> None:
    start = time.monotonic()
    with pytest.raises(error, match=text) as info:
        fetch_image(servers[0] + path, settings())
    assert time.monotonic() - start < 1.5  # /huge-length must not wait for its body
    assert "Traceback" not in info.value.message and "Errno" not in info.value.message
    assert info.value.status == (413 if error is InputTooLarge else 502)


@pytest.mark.parametrize("path", ["/drip", "/drip-headers"])
def test_slow_drip_hits_the_overall_deadline(servers: tuple[str, str], path: str) -> None:
    start = time.monotonic()
    with pytest.raises(InputUnreachable, match="(?i)timed out"):
        fetch_image(servers[0] + path, settings())  # budget: 2 * (0.5 + 1.0) = 3 s
    assert 2.5 < time.monotonic() - start < 4.5


def test_silent_server_times_out(recorder: Callable[..., Recorder]) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # the kernel completes the handshake; nobody ever answers
    try:
        start = time.monotonic()
        with pytest.raises(InputUnreachable, match="(?i)timed out"):
            fetch_image(f"http://127.0.0.1:{silent.getsockname()[1]}/", settings())
        assert time.monotonic() - start < 2.5  # the 1 s read timeout, not the 3 s budget
    finally:
        silent.close()


def test_connection_refused_and_dns_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(InputUnreachable, match="refused"):
        fetch_image(f"http://127.0.0.1:{port}/", settings())

    def no_such_host(*args: Any, **kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)  # no query leaves the machine
    with pytest.raises(InputUnreachable, match="Could not resolve") as info:
        fetch_image("http://images.example.invalid/a.png", settings())
    assert "Name or service" not in info.value.message


# ---------------------------------------------------------------- refusals (SSRF)

@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "gopher://127.0.0.1:70/_x", "ftp://example.com/a.png",
    "data:image/png;base64,iVBORw0KGgo=", "javascript:alert(1)", "//example.com/a.png",
    "http://user:pass@example.com/a.png", "http://user@example.com/a.png",
    "http://example.com\\@127.0.0.1/", "http:///a.png", "http://exa mple.com/",
])
def test_refused_schemes_and_credentials(no_connect: None, url: str) -> None:
    with pytest.raises(InputRefused) as info:
        fetch_image(url, settings(allow=()))
    assert info.value.code == "input_url_forbidden" and info.value.status == 502


@pytest.mark.parametrize("host", ["10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                  "100.64.0.1", "224.0.0.1", "240.0.0.1", "[fe80::1]",
                                  "[fc00::1]", "[fec0::1]", "[2002:a00:1::]", "[64:ff9b::a00:1]",
                                  "[::ffff:10.0.0.1]", "[::]"])
def test_private_addresses_refused_before_connecting(no_connect: None, host: str) -> None:
    with pytest.raises(InputRefused, match="non-public"):
        fetch_image(f"http://{host}/latest/meta-data/", settings(allow=()))


LOOPBACK_SPELLINGS = ["127.0.0.1", "localhost", "[::1]", "0.0.0.0",  # noqa: S104 - a URL
                      "[::ffff:127.0.0.1]",
                      "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "127.1"]


def _loopback_url(make: Callable[..., Recorder], host: str) -> tuple[str, Recorder]:
    rec = make("::1" if host == "[::1]" else "127.0.0.1")
    return f"http://{host}:{rec.port}/x.png", rec


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_loopback_spellings_never_reach_the_listener(recorder: Callable[..., Recorder],
                                                     host: str) -> None:
    url, rec = _loopback_url(recorder, host)
    with pytest.raises(InputRefused):
        fetch_image(url, settings(allow=()))
    time.sleep(0.05)  # a connection, had one been made, is accepted by now
    assert rec.accepted == []


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
def test_control_the_same_urls_do_reach_the_listener_when_allowed(
        recorder: Callable[..., Recorder], host: str) -> None:
    # Proves the recorder above would have seen a connection: getaddrinfo maps each
    # spelling to a loopback address, and only the policy stops it.
    url, rec = _loopback_url(recorder, host)
    with pytest.raises(InputUnreachable):  # the recorder hangs up without answering
        fetch_image(url, settings(allow=LOOPBACK))
    assert len(rec.accepted) == 1


def test_redirect_leaving_the_allowed_host_is_refused(servers: tuple[str, str],
                                                      recorder: Callable[..., Recorder]) -> None:
    rec = recorder("127.0.0.2")
    only_server = settings(allow=(ipaddress.ip_network("127.0.0.1/32"),))
    Handler.seen.clear()
    with pytest.raises(InputRefused):
        fetch_image(f"{servers[0]}/goto?http://127.0.0.2:{rec.port}/x.png", only_server)
    time.sleep(0.05)
    assert len(Handler.seen) == 1 and rec.accepted == []  # first hop made, second refused


def test_dns_is_resolved_once_and_the_checked_ip_is_used(
        servers: tuple[str, str], recorder: Callable[..., Recorder],
        monkeypatch: pytest.MonkeyPatch) -> None:
    port = int(servers[0].rsplit(":", 1)[1])
    rebound = recorder("127.0.0.2", port)  # where a second lookup would send us
    calls = _fake_dns(monkeypatch, {"rebind.test": ["127.0.0.1", "127.0.0.2"]})
    only_first = settings(allow=(ipaddress.ip_network("127.0.0.1/32"),))
    assert fetch_image(f"http://rebind.test:{port}/image.png", only_first) == IMAGE
    assert calls == ["rebind.test"]
    assert Handler.seen[-1][1]["Host"] == f"rebind.test:{port}"
    assert rebound.accepted == []


def test_any_bad_address_among_several_refuses(monkeypatch: pytest.MonkeyPatch,
                                               no_connect: None) -> None:
    real = socket.getaddrinfo

    def mixed(host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "mixed.test":
            return real(host, port, *args, **kwargs)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in ("93.184.215.14", "10.1.2.3")]
    monkeypatch.setattr(socket, "getaddrinfo", mixed)
    with pytest.raises(InputRefused):
        fetch_image("http://mixed.test/a.png", settings(allow=()))


def test_is_allowed_address_table() -> None:
    allowed = fetch.is_allowed_address
    assert allowed(ipaddress.ip_address("93.184.215.14"))
    assert allowed(ipaddress.ip_address("2606:4700::1111"))
    assert not allowed(ipaddress.ip_address("::ffff:127.0.0.1"))
    assert allowed(ipaddress.ip_address("::ffff:127.0.0.1"), LOOPBACK)
    assert allowed(ipaddress.ip_address("10.9.8.7"), (ipaddress.ip_network("10.9.8.0/24"),))
    assert not allowed(ipaddress.ip_address("10.9.9.7"), (ipaddress.ip_network("10.9.8.0/24"),))


# ---------------------------------------------------------------- HTTPS: SNI and certificates

def _make_cert(tmp: Path, name: str) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate for name signed by it (openssl CLI)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp, check=True, capture_output=True, timeout=20)
    run("req", "-x509", *ec, "-subj", "/CN=test-ca", "-days", "1",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", *ec, "-subj", f"/CN={name}", "-keyout", "srv.key", "-out", "srv.csr")
    (tmp / "ext.cnf").write_text(f"subjectAltName=DNS:{name}\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "srv.pem")
    return tmp / "ca.pem", tmp / "srv.pem", tmp / "srv.key"


def test_https_uses_sni_and_checks_the_certificate(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ca, cert, key = _make_cert(tmp_path, "img.test")
    sni: list[str | None] = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.sni_callback = lambda sock, name, c: sni.append(name)  # type: ignore[assignment]
    server = _serve("127.0.0.1", ctx)
    port = server.server_port
    _fake_dns(monkeypatch, {"img.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
    try:
        # System CAs do not trust the test CA: refused as an invalid certificate.
        with pytest.raises(InputUnreachable, match="certificate"):
            fetch_image(f"https://img.test:{port}/image.png", settings())
        monkeypatch.setattr(fetch, "_ssl_context",
                            lambda: ssl.create_default_context(cafile=str(ca)))
        assert fetch_image(f"https://img.test:{port}/image.png", settings()) == IMAGE
        assert sni[-1] == "img.test"
        assert Handler.seen[-1][1]["Host"] == f"img.test:{port}"
        # Same IP, other name: the certificate does not match the URL's host.
        with pytest.raises(InputUnreachable, match="certificate"):
            fetch_image(f"https://other.test:{port}/image.png", settings())
        assert sni[-1] == "other.test"
    finally:
        server.shutdown()
        server.server_close()
