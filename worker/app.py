"""The worker entry: `celery -A worker.app worker -Q segment`.

Importing it reads the settings and, when the node serves metrics (WORKER_METRICS_PORT), sets
PROMETHEUS_MULTIPROC_DIR before anything imports prometheus_client: the pool children forked
later write their metrics there, and this (main) process serves the sum.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from celery.signals import (
    celeryd_init,
    setup_logging,
    worker_process_init,
    worker_ready,
    worker_shutting_down,
)

from shared import logs, multiproc
from shared.runtime import Runtime
from worker import state  # (imports no prometheus_client: shared.credits counts lazily)

settings = state.settings
metrics_dir: Path | None = None
if settings.worker_metrics_port or os.environ.get(multiproc.ENV):
    metrics_dir = multiproc.prepare("worker")

app = state.app
app.conf.update(
    # The worker node imports the tasks module when it starts (before the pool forks), which
    # registers the tasks on `app`; it imports this module, never the other way round.
    include=["worker.tasks"],
    # Loading the model in each child at start takes seconds (weights hash, ONNX session).
    worker_proc_alive_timeout=180,
    worker_max_tasks_per_child=int(os.environ.get("WORKER_MAX_TASKS_PER_CHILD", "1000")),
)

log = logging.getLogger("worker")
_stop = threading.Event()


@setup_logging.connect
def _setup_logging(loglevel: int | str | None = None, **_: object) -> None:
    # A receiver here means Celery leaves logging alone: its own lines reach our JSON handler.
    logs.configure(loglevel or logging.INFO)
    # Celery's "Task ... received" is written by the consumer before the job's user is known;
    # worker/job.py logs "job started" with job and user instead.
    logging.getLogger("celery.worker.strategy").setLevel(logging.WARNING)


@celeryd_init.connect
def _fresh_metrics(**_: object) -> None:
    # Only a starting worker node may clear the directory (a `celery inspect` importing this
    # module must not): files of an earlier run would add their counts to ours.
    if metrics_dir is not None:
        multiproc.wipe_stale(metrics_dir, keep_pid=os.getpid())


@celeryd_init.connect
def _refuse_misconfiguration(**_: object) -> None:
    # Before the pool forks: a missing model or an inactive provider stops the node with a
    # clear message and a non-zero exit, instead of children failing one after another.
    # Celery configures logging only after this signal: configure it now, so that the
    # precision self-check and this check reach the start log (setup_logging redoes it).
    logs.configure(logging.INFO)
    from worker import sessions

    try:
        info = sessions.check_startup(settings)
    except sessions.ModelUnavailable as exc:
        log.critical("worker refuses to start: %s", exc)
        raise SystemExit(3) from exc  # SystemExit passes Celery's signal error handling
    log.info("model and provider checked", extra=info)


@worker_process_init.connect
def _init_child(**_: object) -> None:
    # A forked child must not reuse the parent's sockets: start with fresh clients.
    state.runtime = Runtime(settings)
    from worker import edge_colours, heartbeat, matrix_shaper, refine, sessions

    sessions.get_segmenter(settings)  # fail fast (and loudly) if weights or provider are missing
    refine.warm()  # numba: compiled once into its cache, then only loaded
    edge_colours.warm()
    matrix_shaper.warm()
    heartbeat.start(state.runtime, _stop)


@worker_ready.connect
def _init_in_process_pool(sender: object = None, **_: object) -> None:
    # A threads (or solo) pool runs the tasks in this process, where no worker_process_init
    # fires: load the model and start the heartbeat here. The threads pool is what
    # micro-batching needs (MICRO_BATCH_SIZE > 1: concurrent tasks share one inference).
    pool = getattr(getattr(sender, "controller", None), "pool_cls", None)
    if pool is None or "prefork" in getattr(pool, "__module__", "prefork"):
        return
    from worker import edge_colours, heartbeat, matrix_shaper, refine, sessions

    sessions.get_segmenter(settings)
    refine.warm()
    edge_colours.warm()
    matrix_shaper.warm()
    heartbeat.start(state.runtime, _stop)


@worker_ready.connect
def _start_reaper(**_: object) -> None:
    from worker import reaper

    reaper.start(Runtime(settings), _stop)


@worker_ready.connect
def _serve_metrics(**_: object) -> None:
    """Serve every pool child's metrics from this process (children come and go)."""
    port = settings.worker_metrics_port
    if not port or metrics_dir is None:
        return
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    try:
        # Every interface: Prometheus scrapes the pod's IP.
        start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104
    except OSError as exc:
        # A busy port must not stop the node from processing images.
        log.warning("worker metrics not served", extra={"port": port, "error": str(exc)})
        return
    log.info("worker metrics served", extra={"port": port, "path": "/metrics"})


@worker_shutting_down.connect
def _shutdown(**_: object) -> None:
    _stop.set()
