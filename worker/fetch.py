"""SSRF-safe, bounded download of an input image URL (stdlib http.client, pinned to vetted IPs)."""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urljoin, urlsplit

from shared.config import Settings
from shared.errors import InputRefused, InputTooLarge, InputUnreachable

USER_AGENT = "bgremove-fetch/0.1"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_PRINTABLE_ASCII = "".join(chr(c) for c in range(33, 127))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class _Target:
    """One hop's URL, split into what the connection needs."""

    url: str
    scheme: str
    host: str  # ASCII (IDNA) host name or IP literal, without brackets
    port: int
    host_header: str
    path: str


def fetch_image(url: str, settings: Settings) -> bytes:
    """Download url's body, refusing non-public addresses and bounding time, hops and size."""
    # One wall-clock budget for every hop, so slow drips or redirect chains cannot stall us.
    budget = 2 * (settings.input_connect_timeout + settings.input_read_timeout)
    watchdog = _Watchdog(time.monotonic() + budget)
    try:
        current = url
        for _hop in range(settings.input_max_redirects + 1):
            target = _parse(current)
            addresses = _resolve(target, settings)
            status, location, body = _get(target, addresses, settings, watchdog)
            if status in REDIRECT_STATUSES:
                if not location:
                    raise InputUnreachable(f"The input URL redirected (HTTP {status}) "
                                           "without a Location.")
                current = urljoin(target.url, location)
                continue
            if 200 <= status < 300:
                return body
            raise InputUnreachable(f"The input URL answered HTTP {status}.", upstream_status=status)
    finally:
        watchdog.cancel()
    raise InputUnreachable(f"The input URL redirected more than "
                           f"{settings.input_max_redirects} times.")


def _parse(url: str) -> _Target:
    """Split and check one URL: http(s) only, no credentials, a usable host and port."""
    if not isinstance(url, str) or any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        raise InputRefused("The input URL is malformed.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputRefused("The input URL is malformed.") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InputRefused("Only http and https input URLs are allowed.")
    if "@" in parts.netloc:
        raise InputRefused("Input URLs must not contain credentials.")
    if not parts.hostname:
        raise InputRefused("The input URL has no host.")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InputRefused("The input URL has an invalid host name.") from exc
    default_port = 443 if scheme == "https" else 80
    port = port or default_port
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if port == default_port else f"{bracketed}:{port}"
    # Non-ASCII in the path is percent-encoded; http.client sends ASCII only.
    path = quote(parts.path or "/", safe=_PRINTABLE_ASCII)
    if parts.query:
        path = f"{path}?{quote(parts.query, safe=_PRINTABLE_ASCII)}"
    return _Target(url, scheme, host, port, host_header, path)


def _resolve(target: _Target, settings: Settings) -> list[str]:
    """Resolve once; refuse unless EVERY address is public or inside the allow-list."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM,
                                   proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise InputUnreachable(f"Could not resolve the input host {target.host!r}.") from exc
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0])
        if not is_allowed_address(ip, settings.input_allow_networks) or (
                target.port in service_ports(settings) and not is_allowed_address(ip)):
            # Deliberately no IP in the message: it would map internal DNS for the caller.
            raise InputRefused("The input URL resolves to a non-public address.")
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    if not addresses:
        raise InputUnreachable(f"Could not resolve the input host {target.host!r}.")
    return addresses


def service_ports(settings: Settings) -> frozenset[int]:
    """Ports of our own Redis, PostgreSQL and S3: refused on any non-public address.

    INPUT_ALLOW_NETWORKS opens private ranges for image hosts; it must not open our own
    backends that live in those ranges too (the test stack allows 127.0.0.0/8, where they run).
    """
    ports: set[int] = set()
    for url, default in ((settings.redis_url, 6379), (settings.database_url, 5432),
                         (f"//{settings.s3_endpoint}", None)):
        try:
            port = urlsplit(url).port or default
        except ValueError:  # e.g. a multi-host PostgreSQL URL: keep its default port
            port = default
        # An S3 endpoint without a port is on 80/443: refusing those would close every
        # allow-listed image host, so only an explicit S3 port is added.
        if port is not None:
            ports.add(port)
    return frozenset(ports)


def is_allowed_address(ip: IPAddress, allow_networks: tuple = ()) -> bool:
    """True when ip is globally routable, or inside one of allow_networks."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1 on a dual-stack socket
    if any(ip.version == net.version and ip in net for net in allow_networks):
        return True
    if (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local
            or ip.is_multicast or ip.is_reserved or ip.is_unspecified):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local:
            return False
        # 6to4 and NAT64 carry an IPv4 address that a gateway would connect to.
        embedded = ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not is_allowed_address(embedded, ()):
            return False
    return True


class _Watchdog:
    """Cuts the current socket at the overall deadline: per-read timeouts reset on every byte."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.expired = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(max(deadline - time.monotonic(), 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        """Make sock the one to cut (the raw TCP socket, before any TLS wrapping)."""
        with self._lock:
            self._sock = sock
        if self.expired.is_set():
            self._fire()

    def remaining(self, limit: float) -> float:
        """The smaller of limit and the time left; InputUnreachable when none is left."""
        left = self.deadline - time.monotonic()
        if left <= 0 or self.expired.is_set():
            raise InputUnreachable("Timed out fetching the input URL.")
        return min(limit, left)

    def cancel(self) -> None:
        """Stop the timer (the fetch is over)."""
        self._timer.cancel()

    def _fire(self) -> None:
        self.expired.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            # Already closed means nothing is left to cut. The base-class call shuts the fd
            # itself, bypassing SSLSocket's unwrap logic (another thread may be reading).
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a vetted IP, with SNI and certificate check against the URL's host name."""

    def __init__(self, ip: str, port: int, server_hostname: str, timeout: float,
                 context: ssl.SSLContext, watchdog: _Watchdog) -> None:
        super().__init__(ip, port, timeout=timeout, context=context)
        self._server_hostname = server_hostname
        self._watchdog = watchdog

    def connect(self) -> None:
        """TCP connect to the pinned IP, then TLS for the original host name."""
        http.client.HTTPConnection.connect(self)
        self._watchdog.watch(self.sock)  # a handshake that drips is cut at the deadline too
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_hostname)


def _ssl_context() -> ssl.SSLContext:
    """The TLS context for https inputs (system CAs, host name checked); tests swap it."""
    return ssl.create_default_context()


def _connect(target: _Target, addresses: list[str], settings: Settings,
             watchdog: _Watchdog) -> http.client.HTTPConnection:
    """Connect to the first vetted address that answers; never resolves again."""
    last_exc: Exception | None = None
    for ip in addresses:
        timeout = watchdog.remaining(settings.input_connect_timeout)
        conn: http.client.HTTPConnection
        if target.scheme == "https":
            conn = _PinnedHTTPSConnection(ip, target.port, target.host, timeout,
                                          _ssl_context(), watchdog)
        else:
            conn = http.client.HTTPConnection(ip, target.port, timeout=timeout)
        try:
            conn.connect()
            watchdog.watch(conn.sock)
            return conn
        except (OSError, ssl.SSLError) as exc:
            conn.close()
            last_exc = exc
    if isinstance(last_exc, TimeoutError) or watchdog.expired.is_set():
        raise InputUnreachable("Timed out connecting to the input URL.") from last_exc
    if isinstance(last_exc, ssl.SSLCertVerificationError):
        raise InputUnreachable("The input URL's TLS certificate is not valid.") from last_exc
    if isinstance(last_exc, ssl.SSLError):
        raise InputUnreachable("TLS handshake with the input URL failed.") from last_exc
    if isinstance(last_exc, ConnectionRefusedError):
        raise InputUnreachable("The input URL refused the connection.") from last_exc
    raise InputUnreachable("Could not connect to the input URL.") from last_exc


def _get(target: _Target, addresses: list[str], settings: Settings,
         watchdog: _Watchdog) -> tuple[int, str | None, bytes]:
    """One GET: (status, Location header, body); the body is read only for 2xx answers."""
    conn = _connect(target, addresses, settings, watchdog)
    # Kept here: getresponse() drops conn.sock for "Connection: close" answers, while the
    # response still reads through this socket.
    sock = conn.sock
    try:
        sock.settimeout(watchdog.remaining(settings.input_read_timeout))
        conn.request("GET", target.path, headers={
            "Host": target.host_header, "User-Agent": USER_AGENT, "Accept": "image/*",
            "Connection": "close"})
        resp = conn.getresponse()
        if not 200 <= resp.status < 300:
            return resp.status, resp.getheader("Location"), b""
        body = _read_body(resp, sock, settings, watchdog)
        if watchdog.expired.is_set():  # a cut socket reads as EOF, not as an error
            raise InputUnreachable("Timed out reading the input URL.")
        return resp.status, None, body
    except (InputTooLarge, InputUnreachable):
        raise
    except (OSError, ssl.SSLError, http.client.HTTPException, ValueError) as exc:
        if watchdog.expired.is_set() or isinstance(exc, TimeoutError):
            raise InputUnreachable("Timed out reading the input URL.") from exc
        if isinstance(exc, http.client.IncompleteRead):
            raise InputUnreachable("The input URL closed the connection early.") from exc
        if isinstance(exc, http.client.HTTPException):
            raise InputUnreachable("The input URL sent an invalid HTTP response.") from exc
        raise InputUnreachable("The connection to the input URL failed.") from exc
    finally:
        conn.close()


def _read_body(resp: http.client.HTTPResponse, sock: socket.socket, settings: Settings,
               watchdog: _Watchdog) -> bytes:
    """Read at most input_max_bytes, in small reads so the deadline is checked between them."""
    limit = settings.input_max_bytes
    too_large = f"The input image is larger than {limit} bytes."
    header = (resp.getheader("Content-Length") or "").strip()
    length = int(header) if header.isdigit() else None
    if length is not None and length > limit:
        raise InputTooLarge(too_large)
    chunks: list[bytes] = []
    total = 0
    while True:
        sock.settimeout(watchdog.remaining(settings.input_read_timeout))
        # read1 returns after one socket read; read(n) would wait for n bytes of a slow drip.
        chunk = resp.read1(min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise InputTooLarge(too_large)
        chunks.append(chunk)
    if length is not None and total < length:
        # read1 reports a short body as a plain EOF; a cut-off image is not an image.
        raise http.client.IncompleteRead(b"", length - total)
    return b"".join(chunks)
