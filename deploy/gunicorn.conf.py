"""Gunicorn settings for the gateway: `gunicorn -c deploy/gunicorn.conf.py gateway.wsgi:app`.

Every value can be overridden from the environment; the defaults suit one container on a
small CPU node. Gunicorn reads this file as plain Python: module-level names are settings.
"""

from __future__ import annotations

import os
from typing import Any

from shared.logs import gunicorn_logconfig


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


# Containers publish the port; inside one, listen on every interface.
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")  # noqa: S104 - container port

# A few processes for CPU work (JSON, JWT, uploads) and isolation if one dies...
workers = _int("GUNICORN_WORKERS", 2)
# ...each serving its connections as gevent greenlets: a request is held open while a Celery
# worker segments the image, and a waiting request must cost almost nothing. It sleeps on an
# Event fed by the process's one results subscription (gateway/waiter.py): no thread, no Redis
# connection of its own, ~50 KB (docs/benchmarks.md). The class adds deadlines for slow
# clients (408).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gateway.serving.DeadlineGeventWorker")
# Only for GUNICORN_WORKER_CLASS=gthread (the bench compares it): each request a thread.
threads = _int("GUNICORN_THREADS", 64)
# Connections one process accepts: above GATEWAY_MAX_INFLIGHT (requests it admits; past that
# it answers 503 at once), so a refusal is an answer, not a connection left in the backlog.
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS",
                          _int("GATEWAY_MAX_INFLIGHT", 2500) + 500)
# The kernel's queue of connections not yet accepted (gunicorn's default is 2048).
backlog = _int("GUNICORN_BACKLOG", 4096)

# The gateway waits up to REQUEST_TIMEOUT_SECONDS for a result. Gunicorn's timeout (after which
# the arbiter kills a silent worker) must exceed that by a margin, or a slow but legitimate
# request would take its whole process, and every other thread's request, down with it.
timeout = int(float(os.environ.get("REQUEST_TIMEOUT_SECONDS", "60"))) + 30
# On SIGTERM (rolling deploy, `docker stop`) in-flight requests get this long to finish;
# keep the container's stop grace period above it.
graceful_timeout = 30
# Short keep-alive: a load balancer in front reuses connections; an idle one is closed after
# this. Must stay above 0: the gevent worker bounds a kept-alive request's headers by it.
keepalive = 5

# Logs to stdout/stderr for the container runtime to collect.
accesslog = "-"
errorlog = "-"
# ...as JSON lines on stderr (shared/logs.py): the app's, gunicorn's and the access log
# (method, path without query string, status, duration, request id; never headers).
logconfig_dict = gunicorn_logconfig("INFO")

# Recycle each worker process after ~200k requests (jittered so they don't all restart at
# once) to bound slow memory growth in long-lived processes. Not fewer: a process holds
# thousands of requests, and a recycle gives each only graceful_timeout to finish; at a few
# hundred requests a second, 10k would recycle every half minute.
max_requests = 200000
max_requests_jitter = 20000

# The worker heartbeat file lives in memory: on an overlay or read-only root filesystem a
# disk-backed temp file can stall or fail, and the arbiter would then kill healthy workers.
_SHM = "/dev/shm"  # noqa: S108 - gunicorn's documented choice; holds only heartbeat files
worker_tmp_dir = _SHM if os.path.isdir(_SHM) else None


# -- hooks --------------------------------------------------------------------------------------
# Prometheus multiprocess mode: each worker process writes its metrics to files in one
# directory, and /metrics (any worker) adds them all up. The arbiter sets the directory before
# it forks a worker, and before any prometheus_client import. In a hook, not at module level:
# this file is also read by tools and tests that must not get that side effect.
def on_starting(server: Any) -> None:
    from shared import multiproc

    path = multiproc.prepare("gateway")
    multiproc.wipe_stale(path)  # counts of a previous run in a configured directory
    server.log.info("prometheus multiprocess directory: %s", path)


def child_exit(server: Any, worker: Any) -> None:
    # A dead worker's requests_waiting must not stay in the sum (livesum gauges).
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


# Log context (request id, user, job) is bound by the app per request, in the request's
# greenlet; it is cleared here, after gunicorn wrote the access line, so that line carries it
# too and the next request starts clean.
def pre_request(worker: Any, req: Any) -> None:
    from shared import logs

    logs.clear()


def post_request(worker: Any, req: Any, environ: Any, resp: Any) -> None:
    from shared import logs

    logs.clear()
