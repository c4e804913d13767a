"""Thin tasks: fetch -> pipeline -> store -> commit or refund, then tell the waiting request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_postrun, task_prerun
from PIL import Image

from shared import logs, metrics
from shared.errors import ApiError, ProcessingFailed, ProcessingTimeout
from shared.options import OutputOptions
from shared.runtime import Runtime
from shared.storage import output_key
from shared.tasks import (
    REMOVE_BACKGROUND,
    JobResult,
    RemoveBackgroundPayload,
    publish_result,
)
from worker import edge_colours, fetch, models, options, pipeline, state

log = logging.getLogger("worker.tasks")
T = TypeVar("T")


class Stopwatch:
    """Seconds spent per pipeline stage, for the job record and the stage histograms."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def run(self, stage: str, fn: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            # A stage may run in steps (composite: foreground colour, then layout): they add up.
            elapsed = time.perf_counter() - started
            self.timings[stage] = round(self.timings.get(stage, 0.0) + elapsed, 4)


def process(rt: Runtime, payload: RemoveBackgroundPayload) -> JobResult:
    """Run one job end to end and publish its result; idempotent when redelivered."""
    job_id = payload["job_id"]
    job = rt.db.one("job_started", job_id=job_id)
    if job is None:
        _drop_inputs(rt, payload)
        metrics.observe_task("skipped", {})
        result = _already_closed(rt, job_id)
        publish_result(rt.redis, result)
        return result
    logs.bind(user_id=int(job["user_id"]))
    log.info("job started")
    watch = Stopwatch()
    settings = rt.settings
    opts: OutputOptions = payload.get("options") or {}
    key = output_key(job_id, payload["output_format"])
    stored = False
    try:
        data = watch.run("fetch", _input_bytes, rt, payload)
        image, factor = watch.run("decode", options.decode, data, opts, settings.max_image_pixels)
        segmenter = models.get_segmenter(settings)
        mask = watch.run("segment", pipeline.segment, image, segmenter, settings.refine,
                         settings.tta_flip)
        background = _background(rt, opts, watch)
        # Part of compositing: the subject's own colour under its semi-transparent edges.
        subject = (watch.run("composite", edge_colours.estimate, image, mask)
                   if settings.foreground_estimation else image)
        out = watch.run("composite", options.compose, subject, mask, payload, opts, background,
                        factor)
        rendered = watch.run("encode", options.encode, out, payload["output_format"],
                             settings.png_compress_level, settings.png_zlib_strategy)
        key = output_key(job_id, rendered.extension)  # format "auto" is decided by the pixels
        watch.run("upload", rt.storage.put, key, rendered.data, rendered.content_type,
                  rendered.metadata())
        stored = True
        if not rt.credits.commit(job_id, key, watch.timings):
            # The reaper failed (and refunded) this job meanwhile: no output without a charge.
            rt.storage.delete(key)
            return _finished(rt, _already_closed(rt, job_id), watch)
        return _finished(rt, {"job_id": job_id, "status": "succeeded", "output_key": key,
                              "timings": watch.timings}, watch)
    except SoftTimeLimitExceeded:
        return _fail(rt, job_id, ProcessingTimeout(), watch, key if stored else None)
    except ApiError as err:
        return _fail(rt, job_id, err, watch, key if stored else None)
    except Exception:
        log.exception("job failed unexpectedly", extra={"job_id": job_id})
        return _fail(rt, job_id, ProcessingFailed(), watch, key if stored else None)
    finally:
        _drop_inputs(rt, payload)


def _input_bytes(rt: Runtime, payload: RemoveBackgroundPayload) -> bytes:
    """The input image: an upload the gateway put in S3, else the URL (fetched SSRF-safe)."""
    if payload.get("input_key"):
        return rt.storage.get(payload["input_key"])[0]
    return fetch.fetch_image(payload["input_image"], rt.settings)


def _background(rt: Runtime, opts: OutputOptions, watch: Stopwatch) -> Image.Image | None:
    """The background photo (bg_image_url, or an uploaded one), decoded; None without one."""
    if opts.get("bg_image_key"):
        data = watch.run("fetch_background", lambda: rt.storage.get(opts["bg_image_key"])[0])
    elif opts.get("bg_image_url"):
        data = watch.run("fetch_background", fetch.fetch_image, opts["bg_image_url"], rt.settings)
    else:
        return None
    return pipeline.decode(data, rt.settings.max_image_pixels)


def _drop_inputs(rt: Runtime, payload: RemoveBackgroundPayload) -> None:
    """Delete the job's uploaded objects once it has ended (the lifecycle rule is the backstop)."""
    for key in (payload.get("input_key"), (payload.get("options") or {}).get("bg_image_key")):
        if key:
            try:
                rt.storage.delete(key)
            except ApiError:
                log.warning("could not delete an uploaded input", extra={"key": key})


def _fail(rt: Runtime, job_id: str, err: ApiError, watch: Stopwatch,
          stored_key: str | None) -> JobResult:
    """Refund and record the error; remove an output written before the failure."""
    if stored_key:
        try:
            rt.storage.delete(stored_key)
        except ApiError:
            log.warning("could not delete output of failed job", extra={"job_id": job_id})
    rt.credits.refund(job_id, err.code, err.message, watch.timings)
    return _finished(rt, {"job_id": job_id, "status": "failed",
                          "error": {"code": err.code, "message": err.message},
                          "timings": watch.timings}, watch)


def _finished(rt: Runtime, result: JobResult, watch: Stopwatch) -> JobResult:
    """Tell the waiting request first, then count the job and log one line for it."""
    # Published here, while the caller's frame still holds the images: freeing ~100 MB of
    # pixels of a large photo would otherwise delay the answer (measured ~10 ms at 12 MP).
    publish_result(rt.redis, result)
    code = (result.get("error") or {}).get("code") if result["status"] != "succeeded" else None
    metrics.observe_task(result["status"], watch.timings, code)
    log.info("job %s", result["status"],
             extra={"status": result["status"], "error_code": code, "timings": watch.timings})
    return result


def _already_closed(rt: Runtime, job_id: str) -> JobResult:
    """A redelivered or reaped job: report what the database already says."""
    job = rt.db.one("get_job", job_id=job_id)
    if job:
        logs.bind(user_id=int(job["user_id"]))
    if job and job["status"] == "succeeded":
        return {"job_id": job_id, "status": "succeeded", "output_key": job["output_key"]}
    code = (job and job["error_code"]) or "processing_failed"
    message = (job and job["error_message"]) or "The job failed."
    return {"job_id": job_id, "status": "failed", "error": {"code": code, "message": message}}


@state.app.task(name=REMOVE_BACKGROUND)
def remove_background(payload: RemoveBackgroundPayload) -> JobResult:
    """Celery wiring: process (which publishes the result for the waiting gateway thread)."""
    rt = state.runtime  # this process's, fresh after a fork (worker/app.py)
    try:
        return process(rt, payload)
    except Exception:
        # Nothing recorded (the database or Redis failed under the job): Celery logs it and
        # the reaper refunds it later; count it next to the recorded failures.
        metrics.observe_task("error", {}, "unhandled")
        raise


# The job id on every line of a task, Celery's own "succeeded" / "raised" lines included: they
# are written between these two signals, in the process and thread that runs the task.
@task_prerun.connect
def _bind_job(task: Any = None, args: Any = None, **_: Any) -> None:
    if getattr(task, "name", None) == REMOVE_BACKGROUND and args and isinstance(args[0], dict):
        logs.bind(job_id=str(args[0].get("job_id")))


@task_postrun.connect
def _unbind_job(**_: Any) -> None:
    logs.clear()  # the pool process runs other jobs next
