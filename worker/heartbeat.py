"""Each worker process announces itself in Redis (TTL'd key) so /readyz can list live workers."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading

from shared.runtime import Runtime
from shared.tasks import HEARTBEAT_PREFIX, HEARTBEAT_TTL_SECONDS
from worker.sessions import session_info

log = logging.getLogger("worker.heartbeat")
INTERVAL_SECONDS = 5


def beat(rt: Runtime) -> None:
    """Write this process's heartbeat once."""
    host, pid = socket.gethostname(), os.getpid()
    info = {"hostname": host, "pid": pid, "queue": rt.settings.worker_queue,
            "model": rt.settings.model_name, **session_info()}
    rt.redis.set(f"{HEARTBEAT_PREFIX}{host}:{pid}", json.dumps(info), ex=HEARTBEAT_TTL_SECONDS)


def start(rt: Runtime, stop: threading.Event) -> threading.Thread:
    """Beat every few seconds until stop is set (Redis errors are logged, never fatal)."""

    def loop() -> None:
        while not stop.is_set():
            try:
                beat(rt)
            except Exception:
                log.warning("heartbeat failed", exc_info=True)
            stop.wait(INTERVAL_SECONDS)

    thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
    thread.start()
    return thread
