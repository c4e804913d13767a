"""The gateway's metrics and log context: GET /metrics, per-request counts and timings, and the
request id, user id and job id on every log line of a request.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import redis as redis_lib
from celery.signals import before_task_publish
from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import decode_token
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gateway.contract import Answer, Routes
from gateway.routing import route_queues
from shared import logs, metrics
from shared.tasks import REMOVE_BACKGROUND

log = logging.getLogger("gateway.observability")
routes = Routes("metrics", __name__, tag="meta")
bp = routes.bp

# Requests that hold their thread while a worker segments the image.
WAITING_ENDPOINTS = frozenset({"api.remove_background", "removebg.removebg"})
# Anything else is one label value: a client must not be able to mint new time series.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"
# A client's X-Request-ID is kept when it looks like an id; anything else gets a fresh one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# The scrape must answer within Prometheus' timeout (10 s) even when Redis hangs.
QUEUE_DEPTH_REDIS_TIMEOUT = 1.0


def init_app(app: Flask) -> None:
    """Add /metrics and the hooks that count, time and label each request."""
    app.register_blueprint(bp)
    # First of all before_request hooks: a later one may refuse the request (413 for a big
    # chunked body), and that request must still be timed and carry its ids.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    app.teardown_request(_teardown)
    # The job id is made inside the view; the enqueue is the first moment it is visible here.
    before_task_publish.connect(_job_queued, weak=False, dispatch_uid="bgremove-job-queued")


@routes.get("/metrics", op="metrics", answer=Answer(
    media=("text/plain",), description="The Prometheus text exposition."))
def metrics_endpoint() -> Response:
    """Prometheus metrics of every gunicorn worker, plus the queue depth
    And readiness (dependencies, live workers and their models), read at scrape time."""
    from gateway.health import ReadinessCollector

    rt = current_app.extensions["bgr"]
    queues = route_queues(rt)
    body, content_type = metrics.exposition(
        QueueDepthCollector(rt.settings.redis_url, queues), ReadinessCollector(rt, queues))
    return Response(body, content_type=content_type)


class QueueDepthCollector(Collector):
    """bgremove_queue_depth{queue}: LLEN of each Celery queue, read at scrape time.

    Running tasks have left the list, so this is the backlog (what KEDA scales workers on).
    When Redis does not answer, the family comes without samples and the scrape still works.
    """

    def __init__(self, redis_url: str, queues: Sequence[str]) -> None:
        self.redis_url = redis_url
        self.queues = list(queues)

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "bgremove_queue_depth", "Jobs waiting in the Celery queue (length of its Redis list).",
            labels=["queue"])
        try:
            # A short-lived client of its own: the app's waits up to 10 s on a hung Redis.
            with redis_lib.Redis.from_url(
                    self.redis_url, socket_connect_timeout=QUEUE_DEPTH_REDIS_TIMEOUT,
                    socket_timeout=QUEUE_DEPTH_REDIS_TIMEOUT) as client:
                depths = [(queue, client.llen(queue)) for queue in self.queues]
        except redis_lib.RedisError as exc:
            log.warning("queue depth unavailable: %s", type(exc).__name__)
        else:
            for queue, depth in depths:
                family.add_metric([queue], depth)
        yield family


# -- per request ------------------------------------------------------------------------------
def _start() -> None:
    g.bgr_started = time.perf_counter()
    g.bgr_request_id = _request_id()
    logs.bind(request_id=g.bgr_request_id, user_id=_user_id(), job_id=None)
    if request.endpoint in WAITING_ENDPOINTS:
        metrics.REQUESTS_WAITING.inc()
        g.bgr_waiting = True


def _finish(response: Response) -> Response:
    rule = request.url_rule
    # The rule (/api/v1/jobs/<job_id>), never the path: ids would make a series per job.
    route = rule.rule if rule is not None else UNMATCHED_ROUTE
    method = request.method if request.method in _METHODS else "OTHER"
    status = str(response.status_code)
    metrics.HTTP_REQUESTS.labels(route=route, method=method, status=status).inc()
    started = g.get("bgr_started")
    if started is not None:
        metrics.HTTP_REQUEST_SECONDS.labels(route=route, method=method, status=status).observe(
            time.perf_counter() - started)
    request_id = g.get("bgr_request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    return response


def _teardown(_exc: BaseException | None) -> None:
    if g.pop("bgr_waiting", False):
        metrics.REQUESTS_WAITING.dec()
    # Under gunicorn the ids stay bound until its post_request hook (deploy/gunicorn.conf.py),
    # so the access log line, written after this, carries them too.
    if "gunicorn.socket" not in request.environ:
        logs.clear()


def _request_id() -> str:
    given = request.headers.get("X-Request-ID", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _user_id() -> int | None:
    """The user of a validly signed bearer token (expired or not), else None.

    Signature only: no revocation lookup, so logging costs no database query; the views'
    @jwt_required still does every check.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return int(decode_token(token.strip(), allow_expired=True)["sub"])
    except Exception:  # any malformed or forged token: the view answers 401, we log no user
        return None


def _job_queued(sender: Any = None, headers: dict[str, Any] | None = None,
                routing_key: str | None = None, **_: Any) -> None:
    if sender != REMOVE_BACKGROUND or not headers or not headers.get("id"):
        return
    logs.bind(job_id=str(headers["id"]))  # task id == job id
    log.info("job queued", extra={"queue": routing_key})
