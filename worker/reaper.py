"""Jobs stuck past their deadline are failed and refunded, and any waiting request is told."""

from __future__ import annotations

import logging
import threading

from shared.runtime import Runtime
from shared.tasks import publish_result

log = logging.getLogger("worker.reaper")


def reap_overdue(rt: Runtime, limit: int = 500) -> int:
    """Fail and refund every open job past its deadline; return how many were reaped."""
    reaped = 0
    for job in rt.db.all("overdue_jobs", limit=limit):
        if rt.credits.refund(job["id"], "timeout", "The job passed its deadline."):
            reaped += 1
            publish_result(rt.redis, {"job_id": str(job["id"]), "status": "failed",
                         "error": {"code": "timeout", "message": "The job passed its deadline."}})
    if reaped:
        log.warning("reaped overdue jobs", extra={"count": reaped})
    return reaped


def start(rt: Runtime, stop: threading.Event) -> threading.Thread:
    """Reap every REAPER_INTERVAL_SECONDS until stop is set (several reapers are harmless)."""

    def loop() -> None:
        while not stop.wait(rt.settings.reaper_interval_seconds):
            try:
                reap_overdue(rt)
            except Exception:
                log.warning("reaper pass failed", exc_info=True)

    thread = threading.Thread(target=loop, name="reaper", daemon=True)
    thread.start()
    return thread
