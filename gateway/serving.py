"""The gunicorn worker class of the gateway: gevent, with deadlines for slow clients.

Under gevent a connection costs a greenlet, not a thread, so a slow client no longer takes
request capacity from others; still, one that trickles its headers or body must not be held
forever. HEADER_TIMEOUT_SECONDS bounds the headers of a connection's first request (later ones
on a kept-alive connection get gunicorn's keepalive); the body must arrive at
BODY_MIN_BYTES_PER_SECOND after a BODY_TIMEOUT_SECONDS start. Either cut answers 408 and
counts bgremove_slow_clients_total{phase}. A buffering proxy in front (deploy/nginx) takes the
slow part off the gateway altogether; these deadlines are what holds without one.

Only gunicorn imports this module (deploy/gunicorn.conf.py names the class), after gevent
has patched the process.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker

from shared.config import Settings
from shared.errors import RequestTimeout

_408_BODY = json.dumps(RequestTimeout("The request headers did not arrive in time.").to_dict())


class HeaderTimeout(Exception):
    """The first request's headers did not arrive within HEADER_TIMEOUT_SECONDS."""


class DeadlineBody:
    """wsgi.input with a minimum transfer rate: the body must keep up with min_rate.

    Byte k of the body is due by start + grace + k / min_rate. Reads go in pieces of one
    second's worth at that rate, so a client far below it is cut within about a second of
    falling behind, whatever Content-Length it announced; one that keeps the rate never is.
    """

    def __init__(self, body: Any, grace: float, min_rate: float) -> None:
        self._body = body
        self._start = time.monotonic()
        self._grace = grace
        self._rate = min_rate
        self._piece = max(1024, int(min_rate))
        self._received = 0
        self._cut = False

    def _timed(self, method: str, size: int) -> bytes:
        due = self._start + self._grace + (self._received + size) / self._rate
        try:
            if self._cut:
                raise gevent.Timeout  # a later read of a body already cut: fail the same way
            with gevent.Timeout(max(due - time.monotonic(), 0.001)):
                data = getattr(self._body, method)(size)
        except gevent.Timeout:
            if not self._cut:
                self._cut = True
                count_cut("body")  # once per request, however often it is read after
            err = RequestTimeout("The request body arrived too slowly.")
            err.headers = {"Connection": "close"}
            raise err from None
        self._received += len(data)
        return data

    def read(self, size: int | None = None) -> bytes:
        parts: list[bytes] = []
        wanted = size if size is not None and size >= 0 else None
        while wanted is None or wanted > 0:
            piece = self._piece if wanted is None else min(self._piece, wanted)
            data = self._timed("read", piece)
            if not data:
                break
            parts.append(data)
            if wanted is not None:
                wanted -= len(data)
        return b"".join(parts)

    def readline(self, size: int | None = None) -> bytes:
        # At most one piece: a shorter line than asked is allowed for a file's readline.
        limit = self._piece if size is None or size < 0 else min(size, self._piece)
        return self._timed("readline", limit)

    def readlines(self, hint: int | None = None) -> list[bytes]:
        lines = []
        while line := self.readline():
            lines.append(line)
        return lines

    def __iter__(self) -> DeadlineBody:
        return self

    def __next__(self) -> bytes:
        line = self.readline()
        if not line:
            raise StopIteration
        return line


def count_cut(phase: str) -> None:
    """One slow client cut off, by phase (headers or body)."""
    from shared import metrics  # after the multiprocess directory is set (gunicorn hook)

    metrics.SLOW_CLIENTS.labels(phase=phase).inc()


class DeadlineGeventWorker(GeventWorker):
    """GeventWorker that answers 408 to clients slower than the configured deadlines."""

    def init_process(self) -> None:
        settings = Settings.from_env()
        self.header_timeout = settings.header_timeout_seconds
        self.body_grace = settings.body_timeout_seconds
        self.body_min_rate = float(settings.body_min_bytes_per_second)
        super().init_process()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        gevent.getcurrent().bgr_served = 0  # type: ignore[attr-defined]
        super().handle(listener, client, addr)

    def timeout_ctx(self) -> gevent.Timeout:
        if getattr(gevent.getcurrent(), "bgr_served", 1) == 0:
            return gevent.Timeout(self.header_timeout, HeaderTimeout)
        return super().timeout_ctx()  # an idle kept-alive connection: closed quietly

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> Any:
        current = gevent.getcurrent()
        current.bgr_served = getattr(current, "bgr_served", 0) + 1  # type: ignore[attr-defined]
        if req.body is not None:
            req.body = DeadlineBody(req.body, self.body_grace, self.body_min_rate)
        return super().handle_request(listener_name, req, sock, addr)

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if not isinstance(exc, HeaderTimeout):
            return super().handle_error(req, client, addr, exc)
        count_cut("headers")
        body = _408_BODY.encode()
        head = ("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        with contextlib.suppress(OSError):  # the client may be gone already
            client.sendall(head + body)
        return None
