"""Thin tasks: fetch -> pipeline -> store -> commit or refund, then tell the waiting request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded

from shared.errors import ApiError, ProcessingFailed, ProcessingTimeout
from shared.runtime import Runtime
from shared.storage import output_key
from shared.tasks import (
    REMOVE_BACKGROUND,
    JobResult,
    RemoveBackgroundPayload,
    publish_result,
)
from worker import app as worker_app
from worker import fetch, models, pipeline

log = logging.getLogger("worker.tasks")
T = TypeVar("T")


class Stopwatch:
    """Seconds spent per pipeline stage, for the job record."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def run(self, stage: str, fn: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.timings[stage] = round(time.perf_counter() - started, 4)


def process(rt: Runtime, payload: RemoveBackgroundPayload) -> JobResult:
    """Run one job end to end; idempotent when redelivered (same key, charge once)."""
    job_id = payload["job_id"]
    job = rt.db.one("job_started", job_id=job_id)
    if job is None:
        return _already_closed(rt, job_id)
    watch = Stopwatch()
    settings = rt.settings
    key = output_key(job_id, payload["output_format"])
    stored = False
    try:
        data = watch.run("fetch", fetch.fetch_image, payload["input_image"], settings)
        image = watch.run("decode", pipeline.decode, data, settings.max_image_pixels)
        session = models.get_session(settings)
        mask = watch.run("segment", pipeline.segment, image, session)
        out = watch.run("composite", pipeline.composite, image, mask, payload["bg_color"],
                        payload["bg_gradient"], payload["gradient_direction"],
                        payload["output_format"])
        encoded, content_type = watch.run("encode", pipeline.encode, out,
                                          payload["output_format"], settings.png_compress_level,
                                          settings.png_zlib_strategy)
        watch.run("upload", rt.storage.put, key, encoded, content_type)
        stored = True
        if not rt.credits.commit(job_id, key, watch.timings):
            # The reaper failed (and refunded) this job meanwhile: no output without a charge.
            rt.storage.delete(key)
            return _already_closed(rt, job_id)
        return {"job_id": job_id, "status": "succeeded", "output_key": key,
                "timings": watch.timings}
    except SoftTimeLimitExceeded:
        return _fail(rt, job_id, ProcessingTimeout(), watch, key if stored else None)
    except ApiError as err:
        return _fail(rt, job_id, err, watch, key if stored else None)
    except Exception:
        log.exception("job failed unexpectedly", extra={"job_id": job_id})
        return _fail(rt, job_id, ProcessingFailed(), watch, key if stored else None)


def _fail(rt: Runtime, job_id: str, err: ApiError, watch: Stopwatch,
          stored_key: str | None) -> JobResult:
    """Refund and record the error; remove an output written before the failure."""
    if stored_key:
        try:
            rt.storage.delete(stored_key)
        except ApiError:
            log.warning("could not delete output of failed job", extra={"job_id": job_id})
    rt.credits.refund(job_id, err.code, err.message, watch.timings)
    return {"job_id": job_id, "status": "failed",
            "error": {"code": err.code, "message": err.message}, "timings": watch.timings}


def _already_closed(rt: Runtime, job_id: str) -> JobResult:
    """A redelivered or reaped job: report what the database already says."""
    job = rt.db.one("get_job", job_id=job_id)
    if job and job["status"] == "succeeded":
        return {"job_id": job_id, "status": "succeeded", "output_key": job["output_key"]}
    code = (job and job["error_code"]) or "processing_failed"
    message = (job and job["error_message"]) or "The job failed."
    return {"job_id": job_id, "status": "failed", "error": {"code": code, "message": message}}


@worker_app.app.task(name=REMOVE_BACKGROUND)
def remove_background(payload: RemoveBackgroundPayload) -> JobResult:
    """Celery wiring: process, then publish the result for the waiting gateway thread."""
    rt = worker_app.runtime
    result = process(rt, payload)
    publish_result(rt.redis, result)
    return result
