"""Input servers that send too much, drip, or never answer: bounded, refused, never charged.

The stack's worker runs with INPUT_CONNECT_TIMEOUT=2, INPUT_READ_TIMEOUT=5, so a whole fetch
is cut at 2 * (2 + 5) = 14 s whatever the server does, and INPUT_MAX_BYTES is the 25 MB default.
"""

from __future__ import annotations

import http.server
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from tests.security.util import (
    ENDPOINT,
    assert_error,
    assert_failed_and_refunded,
    post_remove,
)
from tests.stack import get_token, make_user

pytestmark = pytest.mark.timeout(60)

CREDITS = 2
BIG = 30 * 1024 * 1024  # above the 25 MB input limit
FETCH_BUDGET = 14.0  # 2 * (connect 2 s + read 5 s)
_BLOCK = b"\xff" * (64 * 1024)

Handler = http.server.BaseHTTPRequestHandler


def _write_big(h: Handler) -> None:
    sent = 0
    while sent < BIG:
        h.wfile.write(_BLOCK)
        sent += len(_BLOCK)


def _with_length(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.send_header("Content-Length", str(BIG))
    h.end_headers()
    _write_big(h)


def _until_close(h: Handler) -> None:
    # No Content-Length, no chunking: the body is whatever comes before the server closes.
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.send_header("Connection", "close")
    h.end_headers()
    _write_big(h)


def _chunked(h: Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    for _ in range(BIG // len(_BLOCK)):
        h.wfile.write(b"%x\r\n%s\r\n" % (len(_BLOCK), _BLOCK))
    h.wfile.write(b"0\r\n\r\n")


@pytest.mark.parametrize("route", [_with_length, _until_close, _chunked],
                         ids=["content-length", "until-close", "chunked"])
def test_body_over_the_byte_limit_is_413(client, rt, worker, server, route):
    srv = server()
    url = srv.add("/big.jpg", route)
    user = make_user(rt, credits=CREDITS)
    started = time.monotonic()
    resp = post_remove(client, get_token(client, user["api_key"]), input_image=url)
    assert time.monotonic() - started < 20
    assert_error(resp, 413, "input_too_large")
    assert_failed_and_refunded(rt, user, CREDITS, "input_too_large")


def _drip_route(srv, head: bytes, body: bytes):
    """A route that writes head + body one byte every 0.4 s (each read is 'on time')."""

    def route(h: Handler) -> None:
        for byte in head + body:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            if srv.stop.wait(0.4):
                return
    return route


DRIP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"


@pytest.mark.slow
@pytest.mark.parametrize("where", ["body", "headers"])
def test_dripping_server_is_cut_at_the_fetch_budget(gateway_url, rt, worker, server, where):
    srv = server()
    if where == "body":
        # The head arrives at once; then the body drips far slower than it would ever end.
        def route(h: Handler) -> None:
            h.wfile.write(DRIP_HEAD)
            h.wfile.flush()
            _drip_route(srv, b"", b"\xff" * 100_000)(h)
        url = srv.add("/drip.jpg", route)
    else:
        url = srv.add("/drip.jpg", _drip_route(srv, DRIP_HEAD + b"x" * 1000, b""))
    user = make_user(rt, credits=CREDITS)
    token = requests.post(f"{gateway_url}/api/token", json={"key": user["api_key"]},
                          timeout=10).json()["access_token"]
    started = time.monotonic()
    resp = requests.post(f"{gateway_url}{ENDPOINT}", json={"input_image": url},
                         headers={"Authorization": f"Bearer {token}"}, timeout=40)
    elapsed = time.monotonic() - started
    assert_error(resp, 502, "input_unreachable")
    assert FETCH_BUDGET - 1 <= elapsed <= FETCH_BUDGET + 6, elapsed
    job = assert_failed_and_refunded(rt, user, CREDITS, "input_unreachable")
    assert job["timings"]["fetch"] <= FETCH_BUDGET + 1


@pytest.fixture()
def silent_listener() -> Iterator[socket.socket]:
    """Listens on 127.0.0.1 and never accepts: the kernel completes the handshake, then silence."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock
    sock.close()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["accepts, never answers", "never accepts"])
def test_server_that_never_answers_times_out(client, rt, worker, server, silent_listener, kind):
    if kind == "never accepts":
        url = f"http://127.0.0.1:{silent_listener.getsockname()[1]}/x.jpg"
    else:
        srv = server()
        url = srv.add("/silent.jpg", lambda h: srv.stop.wait(50))
    user = make_user(rt, credits=CREDITS)
    started = time.monotonic()
    resp = post_remove(client, get_token(client, user["api_key"]), input_image=url)
    elapsed = time.monotonic() - started
    assert_error(resp, 502, "input_unreachable")
    # The read timeout (5 s) ends it, well before the whole budget.
    assert 4 <= elapsed <= 12, elapsed
    assert_failed_and_refunded(rt, user, CREDITS, "input_unreachable")
