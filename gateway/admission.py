"""Admission: each gateway process counts the requests it holds and refuses past its limit.

Under gevent a process accepts as many connections as gunicorn's worker_connections allows;
GATEWAY_MAX_INFLIGHT (below that) is where it stops taking work and answers 503 overloaded
with Retry-After at once, in the format of the endpoint's API, instead of letting requests
pile up unseen. Probes and /metrics are never refused: an operator must see a full gateway.
"""

from __future__ import annotations

import threading

from flask import Flask, g, request

from shared import metrics
from shared.config import Settings
from shared.errors import Overloaded

# Never refused, never counted: liveness, readiness and the scrape.
EXEMPT_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
RETRY_AFTER_SECONDS = "1"


class Admission:
    """The process's count of requests held, against its limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self._lock = threading.Lock()

    def enter(self) -> bool:
        """Take a place; False when the process already holds its limit."""
        with self._lock:
            if self.held >= self.limit:
                return False
            self.held += 1
        metrics.REQUESTS_INFLIGHT.inc()
        return True

    def leave(self) -> None:
        with self._lock:
            self.held -= 1
        metrics.REQUESTS_INFLIGHT.dec()


def init_app(app: Flask, settings: Settings) -> None:
    """Count every request but the exempt ones; refuse past GATEWAY_MAX_INFLIGHT."""
    admission = Admission(settings.gateway_max_inflight)
    app.extensions["bgr_admission"] = admission
    metrics.INFLIGHT_LIMIT.set(settings.gateway_max_inflight)
    metrics.QUEUE_MAX_DEPTH.set(settings.queue_max_depth)

    def _admit() -> None:
        if request.path in EXEMPT_PATHS:
            return
        if not admission.enter():
            metrics.ADMISSION_REFUSED.inc()
            err = Overloaded("The gateway holds as many requests as it may; retry shortly.")
            err.headers = {"Retry-After": RETRY_AFTER_SECONDS}
            raise err
        g.bgr_admitted = True

    def _release(_exc: BaseException | None) -> None:
        if g.pop("bgr_admitted", False):
            admission.leave()

    # Before any other hook but observability's timer: a refusal costs no token check, no
    # database and no Redis.
    app.before_request_funcs.setdefault(None, []).insert(1, _admit)
    app.teardown_request(_release)
