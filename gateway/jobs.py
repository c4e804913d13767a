"""One job for either API: reserve a credit, store the uploads, enqueue, await the worker.

Every refusal before the reservation costs nothing and leaves nothing; after it, whatever fails
(S3, the broker) refunds the credit and deletes the uploads already stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import redis as redis_lib
from flask import request, url_for

from gateway.context import runtime, waiter
from gateway.forms import Upload, release_body
from gateway.guards import current_limits
from gateway.routing import pick_queue
from gateway.schemas import MAX_IDEMPOTENCY_KEY
from gateway.services import concurrency
from gateway.waiter import Slot, client_gone
from shared.config import Settings
from shared.errors import (
    ApiError,
    ConcurrencyLimited,
    DependencyDown,
    IdempotencyMismatch,
    InputRefused,
    InputTooLarge,
    InputUnreachable,
    InsufficientCredits,
    InvalidImage,
    InvalidParameter,
    Overloaded,
    ProcessingFailed,
    ProcessingTimeout,
    StorageError,
    UnknownForeground,
    UnsupportedMediaType,
    from_code,
)
from shared.runtime import Runtime
from shared.storage import input_key
from shared.tasks import REMOVE_BACKGROUND, RemoveBackgroundPayload, done_key

# What submitting an image job and waiting for it can answer, on either API: the body and its
# upload (parameters, media type, size, the image itself), the credit, idempotency, the queue
# and the stores, the worker's own errors coming back (ApiError: any other code it sends), and
# the user's in-flight limit (gateway/services/concurrency.py).
JOB_ERRORS: tuple[type[ApiError], ...] = (
    InvalidParameter, UnsupportedMediaType, InvalidImage, UnknownForeground, InputUnreachable,
    InputRefused, InsufficientCredits, InputTooLarge, IdempotencyMismatch, ProcessingFailed,
    ApiError, Overloaded, DependencyDown, StorageError, ProcessingTimeout, ConcurrencyLimited)

IDEMPOTENCY_HEADER = "Idempotency-Key"
# How often a waiting request looks whether its client hung up (then it stops waiting).
CLIENT_CHECK_SECONDS = 1.0


@dataclass
class Outcome:
    """A finished job: its result (succeeded), the balance after it, and whether it was replayed."""

    job_id: str
    result: dict[str, Any]
    balance_after: int
    replayed: bool


def idempotency_key() -> str | None:
    """The request's Idempotency-Key header, checked (printable ASCII, 1..255 characters)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not key.isascii() or not key.isprintable():
        raise InvalidParameter(IDEMPOTENCY_HEADER, "The Idempotency-Key header must be 1 to 255 "
                               "printable ASCII characters.")
    return key


def request_hash(params: dict[str, Any], uploads: list[Upload]) -> str:
    """Fingerprint of the normalised parameters and uploaded bytes: one key, one request."""
    body = {"params": params, "uploads": {u.role: u.digest() for u in uploads}}
    if not uploads:
        body = params  # the same hash as before uploads existed: old keys still match
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def resolve_model(requested: str | None, settings: Settings) -> str:
    """The model a job runs: the one asked for, if deployed (400 naming those), else the default."""
    served = settings.served_models
    if requested is None:
        return settings.model_name
    if requested not in served:
        raise InvalidParameter("model", "'model' must be one of the models this deployment "
                               "serves: " + ", ".join(served) + ".")
    return requested


def submit(user_id: int, key_id: int | None, params: dict[str, Any],
           uploads: list[Upload]) -> Outcome:
    """Run one job to its end (or raise: refusal, failure as its error, or 504 timeout),
    holding one of the user's in-flight slots throughout (429 first when none is free)."""
    with concurrency.slot(runtime(), user_id, current_limits(user_id).max_concurrent):
        return _submit(user_id, key_id, params, uploads)


def _submit(user_id: int, key_id: int | None, params: dict[str, Any],
            uploads: list[Upload]) -> Outcome:
    rt = runtime()
    params = {**params, "model": resolve_model(params.get("model"), rt.settings)}
    idem_key = idempotency_key()
    queue = pick_queue(rt, params["model"])  # before reserving: a refused request costs nothing
    job_uuid, balance_after, replayed = rt.credits.reserve_idempotent(
        user_id, key_id, params, rt.settings.job_deadline_seconds, idem_key,
        request_hash(params, uploads) if idem_key else None)
    job_id = str(job_uuid)
    # Registered before the task is sent: its result cannot arrive before anyone listens.
    slot = waiter().register(job_id)
    try:
        if not replayed:
            _enqueue(rt, job_id, params, uploads, queue)
        # The uploads are in S3 now (a replay never needed them): the wait holds no body.
        release_body(uploads)
        if replayed:
            # A retry of a request we already took: answer with the first job, charge nothing.
            result = _await_recorded(slot, job_uuid, rt.settings.request_timeout_seconds)
        else:
            result = _await(slot, rt.settings.request_timeout_seconds)
    finally:
        waiter().unregister(slot)
    if result is None:
        raise timeout_error(job_id)
    if result.get("status") != "succeeded":
        error = result.get("error") or {}
        raise from_code(error.get("code", "processing_failed"), error.get("message"))
    return Outcome(job_id, result, balance_after, replayed)


def _enqueue(rt: Runtime, job_id: str, params: dict[str, Any], uploads: list[Upload],
             queue: str) -> None:
    """Store the uploads under the job's input keys, then send the task; refund on failure."""
    stored: list[str] = []
    try:
        for upload in uploads:
            key = input_key(job_id, upload.role)
            rt.storage.put_stream(key, upload.stream, upload.length, upload.content_type)
            stored.append(key)
        options = dict(params.get("options") or {})
        if any(u.role == "background" for u in uploads):
            options["bg_image_key"] = input_key(job_id, "background")
        payload: RemoveBackgroundPayload = {  # type: ignore[typeddict-item]
            "job_id": job_id, **params, "options": options,
            "input_key": input_key(job_id) if any(u.role == "image" for u in uploads) else None}
        try:
            # ignore_result: the result travels on done_key / DONE_CHANNEL; Celery's backend
            # would otherwise subscribe to every task's own channel on this process's behalf.
            rt.celery.send_task(REMOVE_BACKGROUND, args=[payload], task_id=job_id, queue=queue,
                                ignore_result=True)
        except Exception as exc:  # kombu raises many types; whichever, nothing was queued
            raise DependencyDown("The job queue is unavailable; retry later.") from exc
    except ApiError as err:
        rt.credits.refund(job_id, err.code, err.message)
        for key in stored:
            # If S3 is down, the inputs lifecycle rule removes the object within a day.
            with contextlib.suppress(ApiError):
                rt.storage.delete(key)
        raise


def timeout_error(job_id: str) -> ProcessingTimeout:
    """504 telling where to poll."""
    err = ProcessingTimeout("The image is still being processed; poll the status URL.")
    err.data = {"job_id": job_id,
                "status_url": url_for("api.job_status", job_id=job_id, _external=True)}
    return err


def _await_recorded(slot: Slot, job_id: uuid.UUID, timeout: float) -> dict[str, Any] | None:
    """A replayed job's outcome: the first request's result message, or PostgreSQL's row.

    The row is read at a slowing pace (the first request may have taken the message before
    this one registered); between reads the request sleeps on its slot like any other.
    """
    rt = runtime()
    deadline = time.monotonic() + max(timeout, 0.01)
    delay = 0.05
    while True:
        job = rt.db.one("get_job", job_id=job_id)
        if job is not None and job["status"] == "succeeded":
            return {"job_id": str(job_id), "status": "succeeded", "output_key": job["output_key"]}
        if job is not None and job["status"] == "failed":
            return {"job_id": str(job_id), "status": "failed",
                    "error": {"code": job["error_code"], "message": job["error_message"]}}
        left = deadline - time.monotonic()
        if left <= 0 or client_gone(request.environ):
            return None
        if slot.event.wait(min(delay, left)):
            return slot.result
        delay = min(delay * 2, 2.0)


def _await(slot: Slot, timeout: float) -> dict[str, Any] | None:
    """The worker's result for the slot's job, or None when timeout passes (or the client left).

    The wait is on the process's waiter (gateway/waiter.py): no thread, no Redis connection.
    """
    rt = runtime()
    deadline = time.monotonic() + max(timeout, 0.01)
    while not slot.event.is_set():
        left = deadline - time.monotonic()
        if left <= 0 or client_gone(request.environ):
            break
        slot.event.wait(min(left, CLIENT_CHECK_SECONDS))
    key = done_key(slot.job_id)
    try:
        if slot.result is None:
            # Last look at the job's list, in case the one message was missed.
            raw = rt.redis.lindex(key, 0)
            slot.result = json.loads(raw) if raw else None
        if slot.result is not None:
            rt.redis.delete(key)  # taken: the list is only kept for a waiter that missed it
    except redis_lib.RedisError:
        pass  # Redis went away: the job endpoint still tells the outcome
    return slot.result
