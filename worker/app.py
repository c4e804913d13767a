"""The worker entry: `celery -A worker.app worker -Q segment`."""

from __future__ import annotations

import logging
import os
import threading

from celery.signals import worker_process_init, worker_ready, worker_shutting_down

from shared.config import Settings
from shared.runtime import Runtime

settings = Settings.from_env()
runtime = Runtime(settings)
app = runtime.celery
app.conf.update(
    # Loading the model in each child at start takes seconds (rembg import, ONNX session).
    worker_proc_alive_timeout=180,
    worker_max_tasks_per_child=int(os.environ.get("WORKER_MAX_TASKS_PER_CHILD", "1000")),
)

log = logging.getLogger("worker")
_stop = threading.Event()


@worker_process_init.connect
def _init_child(**_: object) -> None:
    # A forked child must not reuse the parent's sockets: start with fresh clients.
    global runtime
    runtime = Runtime(settings)
    from worker import heartbeat, models

    models.get_session(settings)  # fail fast (and loudly) if weights or provider are missing
    heartbeat.start(runtime, _stop)


@worker_ready.connect
def _start_reaper(**_: object) -> None:
    from worker import reaper

    reaper.start(Runtime(settings), _stop)


@worker_shutting_down.connect
def _shutdown(**_: object) -> None:
    _stop.set()


import worker.tasks  # noqa: E402,F401  (registers the tasks on `app`)
