"""The v1 endpoints: validate, reserve, enqueue, await the worker, answer in the seed's JSON."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import redis as redis_lib
from flask import Blueprint, jsonify, request, url_for
from flask_jwt_extended import get_jwt, jwt_required

from gateway.auth import current_user_id
from gateway.ratelimit import rate_limited
from gateway.routing import pick_queue
from shared.colors import parse_hex_color
from shared.errors import (
    DependencyDown,
    InvalidParameter,
    JobNotFound,
    ProcessingTimeout,
    UnsupportedMediaType,
    from_code,
)
from shared.tasks import (
    GRADIENT_DIRECTIONS,
    OUTPUT_FORMATS,
    REMOVE_BACKGROUND,
    RemoveBackgroundPayload,
    done_key,
)

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# The seed's fields, then our extensions (documented as such in README and OpenAPI).
FIELDS = ("input_image", "output_format", "bg_color", "bg_gradient", "gradient_direction",
          "model")
MAX_URL_LENGTH = 2048
SUCCESS_MESSAGE = "Background removed successfully"


def _rt():
    from gateway.app import runtime

    return runtime()


@bp.get("/user/credits")
@jwt_required()
@rate_limited
def credits() -> Any:
    """GET /api/v1/user/credits -> {"success": true, "credits": N, "user_id": ID}."""
    user_id = current_user_id()
    return jsonify({"success": True, "credits": _rt().credits.balance(user_id),
                    "user_id": user_id})


def validate(body: Any, models: list[str] | None = None) -> dict[str, Any]:
    """The request's parameters, normalised; InvalidParameter naming the first bad field."""
    if not isinstance(body, dict):
        raise InvalidParameter("body", "The request body must be a JSON object.")
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise InvalidParameter(unknown[0], f"Unknown parameter '{unknown[0]}'.")
    url = body.get("input_image")
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameter("input_image", "'input_image' is required: the URL of the image.")
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # an unclosed or invalid '[...]' host
        host = None
    # Control characters (NUL) and lone surrogates are no URL, and PostgreSQL cannot store them.
    if (not host or parts.scheme not in ("http", "https") or len(url) > MAX_URL_LENGTH
            or not url.strip().isprintable()):
        raise InvalidParameter("input_image", "'input_image' must be an http or https URL.")
    fmt = body.get("output_format")
    fmt = "png" if fmt is None else fmt
    if not isinstance(fmt, str) or fmt.lower() not in OUTPUT_FORMATS:
        raise InvalidParameter("output_format", "'output_format' must be png, jpg or webp.")
    fmt = fmt.lower()
    bg_color = _optional_str(body, "bg_color")
    if bg_color is not None:
        _color("bg_color", bg_color)
    gradient = _optional_str(body, "bg_gradient")
    if gradient is not None:
        ends = gradient.split(":")
        if len(ends) != 2:
            raise InvalidParameter("bg_gradient",
                                   "'bg_gradient' must be two hex colours, e.g. '#a855f7:#ec4899'.")
        for end in ends:
            _color("bg_gradient", end)
    direction = _optional_str(body, "gradient_direction")
    if direction is not None and direction not in GRADIENT_DIRECTIONS:
        raise InvalidParameter("gradient_direction", "'gradient_direction' must be one of "
                               + ", ".join(GRADIENT_DIRECTIONS) + ".")
    models = models or []
    model = _optional_str(body, "model")
    if model is None:
        model = models[0] if models else None
    elif model not in models:
        raise InvalidParameter("model", "'model' must be one of the models this deployment "
                               "serves: " + ", ".join(models) + ".")
    return {"input_image": url, "output_format": fmt, "bg_color": bg_color,
            "bg_gradient": gradient, "gradient_direction": direction, "model": model}


def _optional_str(body: dict, name: str) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidParameter(name, f"'{name}' must be a string.")
    return value.strip()


def _color(name: str, value: str) -> None:
    try:
        parse_hex_color(value)
    except ValueError:
        raise InvalidParameter(name, f"'{name}' must be a hex colour like '#2ec27e'.") from None


@bp.post("/image/remove-background")
@jwt_required()
@rate_limited  # before any reservation: a refused request costs nothing
def remove_background() -> Any:
    """Reserve a credit, enqueue, wait for the worker, answer as the seed does."""
    if not request.is_json:
        raise UnsupportedMediaType()
    rt = _rt()
    params = validate(request.get_json(silent=True), rt.settings.served_models)
    idem_key = _idempotency_key()
    user_id = current_user_id()
    queue = pick_queue(rt, params["model"])  # before reserving: a refused request costs nothing
    job_id, balance_after, replayed = rt.credits.reserve_idempotent(
        user_id, int(get_jwt()["kid"]), params, rt.settings.job_deadline_seconds,
        idem_key, _request_hash(params) if idem_key else None)
    if replayed:
        # A retry of a request we already took: answer with the first job, charge nothing.
        result = _await_recorded(job_id, rt.settings.request_timeout_seconds)
        if result is None:
            raise _timeout(str(job_id))
        return _result_response(result, params["input_image"], balance_after)
    payload: RemoveBackgroundPayload = {"job_id": str(job_id), **params}  # type: ignore[typeddict-item]
    try:
        rt.celery.send_task(REMOVE_BACKGROUND, args=[payload], task_id=str(job_id),
                            queue=queue)
    except Exception as exc:  # kombu raises many types; whichever, nothing was queued
        rt.credits.refund(job_id, "enqueue_failed", "could not enqueue")
        raise DependencyDown("The job queue is unavailable; retry later.") from exc
    result = _await(str(job_id), rt.settings.request_timeout_seconds)
    if result is None:
        raise _timeout(str(job_id))
    return _result_response(result, params["input_image"], balance_after)


IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255


def _idempotency_key() -> str | None:
    """The request's Idempotency-Key header, checked (printable ASCII, 1..255 characters)."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_IDEMPOTENCY_KEY or not key.isascii() or not key.isprintable():
        raise InvalidParameter(IDEMPOTENCY_HEADER, "The Idempotency-Key header must be 1 to 255 "
                               "printable ASCII characters.")
    return key


def _request_hash(params: dict[str, Any]) -> str:
    """Fingerprint of the normalised parameters: the same key must come with the same request."""
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _timeout(job_id: str) -> ProcessingTimeout:
    err = ProcessingTimeout("The image is still being processed; poll the status URL.")
    err.data = {"job_id": job_id, "status_url": _status_url(job_id)}
    return err


def _await_recorded(job_id: uuid.UUID, timeout: float) -> dict[str, Any] | None:
    """A replayed job's outcome from PostgreSQL (its result list belongs to the first request)."""
    rt = _rt()
    deadline = time.monotonic() + max(timeout, 0.01)
    delay = 0.05
    while True:
        job = rt.db.one("get_job", job_id=job_id)
        if job is not None and job["status"] == "succeeded":
            return {"job_id": str(job_id), "status": "succeeded", "output_key": job["output_key"]}
        if job is not None and job["status"] == "failed":
            return {"job_id": str(job_id), "status": "failed",
                    "error": {"code": job["error_code"], "message": job["error_message"]}}
        if time.monotonic() + delay > deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


# Longest single BLPOP: below the Redis client's socket read timeout (redis-py 8 defaults
# to 5 s), or a wait longer than that fails as a socket timeout and answers 504 too early.
AWAIT_SLICE_SECONDS = 2.0


def _await(job_id: str, timeout: float) -> dict[str, Any] | None:
    """The worker's result for job_id, or None when timeout passes first."""
    rt = _rt()
    deadline = time.monotonic() + max(timeout, 0.01)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            popped = rt.redis.blpop([done_key(job_id)],
                                    timeout=max(min(left, AWAIT_SLICE_SECONDS), 0.01))
        except redis_lib.RedisError:
            return None  # Redis went away mid-wait: the job endpoint still tells the outcome
        if popped:
            return json.loads(popped[1])


def _status_url(job_id: str) -> str:
    return url_for("api.job_status", job_id=job_id, _external=True)


def _result_response(result: dict[str, Any], input_image: str, balance_after: int) -> Any:
    if result.get("status") != "succeeded":
        error = result.get("error") or {}
        raise from_code(error.get("code", "processing_failed"), error.get("message"))
    return jsonify({
        "success": True,
        "message": SUCCESS_MESSAGE,
        "data": {"output_image": _rt().storage.url(result["output_key"]),
                 "input_image": input_image},
        "credits_remaining": balance_after,
    })


@bp.get("/jobs/<job_id>")
@jwt_required()
@rate_limited
def job_status(job_id: str) -> Any:
    """A job's status; once done the seed's data block (or the error). Owner only, else 404."""
    try:
        job_uuid = uuid.UUID(job_id)
    except ValueError:
        raise JobNotFound() from None
    job = _rt().db.one("get_job", job_id=job_uuid)
    if job is None or int(job["user_id"]) != current_user_id():
        raise JobNotFound()
    body: dict[str, Any] = {"success": True, "job_id": str(job_uuid), "status": job["status"],
                            "created_at": job["created_at"].isoformat(),
                            "finished_at": job["finished_at"] and job["finished_at"].isoformat()}
    if job["status"] == "succeeded":
        body["message"] = SUCCESS_MESSAGE
        body["data"] = {"output_image": _rt().storage.url(job["output_key"]),
                        "input_image": job["params"]["input_image"]}
    elif job["status"] == "failed":
        err = from_code(job["error_code"] or "processing_failed", job["error_message"] or None)
        body["error"] = {"code": err.code, "message": err.message, "status": err.status}
    return jsonify(body)
