"""One job, start to finish: its stages in the order they run, then the charge or the refund.

    fetch      inputs.photo_bytes       the upload from S3, or the URL (SSRF-safe)
    decode     decode.photo             upright RGB, shrunk to the size asked for; its colour
               colour.space_of          space (ICC profile), and the sRGB copy the model sees
    segment    segment.mask             the model's map, refined to a full-size alpha
    composite  edge_colours.estimate    the subject's own colour under its soft edges
               render.compose           roi, crop, scale, position, background, channels
    encode     encode.output            png / jpg / webp / zip / auto, and its metadata
    upload     rt.storage.put           the output into S3

(fetch_background, between segment and composite: a background photo, when one is asked for.)
Then the credit is committed, or refunded if any stage failed, and the result is published to
the request that waits for it. Every stage's seconds go into the job record and the stage
histograms. A job the database no longer holds open (redelivered, or reaped) is not run again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from celery.exceptions import SoftTimeLimitExceeded

from shared import logs, metrics
from shared.errors import ApiError, ProcessingFailed, ProcessingTimeout
from shared.options import OutputOptions
from shared.runtime import Runtime
from shared.storage import output_key
from shared.tasks import JobResult, RemoveBackgroundPayload, publish_result
from worker import colour, decode, depth16, edge_colours, encode, inputs, render, segment, sessions

log = logging.getLogger("worker.job")
T = TypeVar("T")


class Stopwatch:
    """Seconds spent per stage, for the job record and the stage histograms."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def run(self, stage: str, fn: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        try:
            return fn(*args)
        finally:
            # A stage may run in steps (composite: edge colours, then render): they add up.
            elapsed = time.perf_counter() - started
            self.timings[stage] = round(self.timings.get(stage, 0.0) + elapsed, 4)


def process(rt: Runtime, payload: RemoveBackgroundPayload) -> JobResult:
    """Run one job end to end and publish its result; idempotent when redelivered."""
    job_id = payload["job_id"]
    job = rt.db.one("job_started", job_id=job_id)
    if job is None:
        inputs.drop_uploads(rt, payload)
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
    notes: list[str] = []  # for the job's record, failed or not (an ignored ICC profile)
    try:
        data = watch.run("fetch", inputs.photo_bytes, rt, payload)
        image, factor = watch.run("decode", decode.photo, data, opts, settings.max_image_pixels)
        space = watch.run("decode", colour.space_of, image)
        srgb = watch.run("decode", space.to_srgb, image)  # what the model sees
        image.info.pop(depth16.WIDE, None)  # a 16-bit photo's pixels: converted, now spent
        if space.note:
            notes.append(space.note)
        if opts.get("color_space") == "srgb":
            image, space = srgb, colour.SRGB
        segmenter = sessions.get_segmenter(settings)
        mask = watch.run("segment", segment.mask, srgb, segmenter, settings.refine,
                         settings.tta_flip)
        del srgb
        background = None
        if inputs.wants_background(opts):
            bg_data = watch.run("fetch_background", inputs.background_bytes, rt, opts)
            background, bg_note = colour.convert(
                decode.upright_rgb(bg_data, settings.max_image_pixels), space)
            if bg_note:
                notes.append(f"Background photo: {bg_note}")
        subject = (watch.run("composite", edge_colours.estimate, image, mask)
                   if settings.foreground_estimation else image)
        composed = watch.run("composite", render.compose, subject, mask, payload, opts,
                             background, factor, space)
        encoded = watch.run("encode", encode.output, composed, payload["output_format"],
                            settings.png_compress_level, settings.png_zlib_strategy, space.icc)
        key = output_key(job_id, encoded.extension)  # format "auto" is decided by the pixels
        watch.run("upload", rt.storage.put, key, encoded.data, encoded.content_type,
                  encoded.metadata())
        stored = True
        if not rt.credits.commit(job_id, key, watch.timings, notes):
            # The reaper failed (and refunded) this job meanwhile: no output without a charge.
            rt.storage.delete(key)
            return _finished(rt, _already_closed(rt, job_id), watch)
        return _finished(rt, {"job_id": job_id, "status": "succeeded", "output_key": key,
                              "timings": watch.timings}, watch)
    except SoftTimeLimitExceeded:
        return _fail(rt, job_id, ProcessingTimeout(), watch, key if stored else None, notes)
    except ApiError as err:
        return _fail(rt, job_id, err, watch, key if stored else None, notes)
    except Exception:
        log.exception("job failed unexpectedly", extra={"job_id": job_id})
        return _fail(rt, job_id, ProcessingFailed(), watch, key if stored else None, notes)
    finally:
        inputs.drop_uploads(rt, payload)


def _fail(rt: Runtime, job_id: str, err: ApiError, watch: Stopwatch,
          stored_key: str | None, notes: list[str]) -> JobResult:
    """Refund and record the error (and the notes so far); remove an output written before
    the failure."""
    if stored_key:
        try:
            rt.storage.delete(stored_key)
        except ApiError:
            log.warning("could not delete output of failed job", extra={"job_id": job_id})
    rt.credits.refund(job_id, err.code, err.message, watch.timings, notes)
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
