"""What every blueprint needs from the running app: its connections and its error rendering.

Blueprints import these from here, never from gateway/app.py: the app factory imports the
blueprints, so anything they took from it would be an import circle.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, has_request_context, jsonify, request

from gateway.waiter import Waiter
from shared.errors import ApiError
from shared.runtime import Runtime

REMOVEBG_PREFIX = "/v1.0/"  # the remove.bg-compatible API answers errors in its own format

# Our error code -> remove.bg's status, code and title (its codes where one fits).
_REMOVEBG_ERRORS: dict[str, tuple[int, str, str]] = {
    "invalid_parameter": (400, "invalid_parameter", "Invalid parameter"),
    "bad_request": (400, "invalid_parameter", "Invalid parameter"),
    "unsupported_media_type": (400, "invalid_parameter", "Unsupported Content-Type"),
    "invalid_image": (400, "invalid_image", "Failed to read the image"),
    "unknown_foreground": (400, "unknown_foreground", "Could not identify foreground in image"),
    "input_unreachable": (400, "failed_to_download", "Failed to download the image"),
    "input_url_forbidden": (400, "invalid_image_url", "The image URL is not allowed"),
    "input_too_large": (413, "file_too_large", "The image is too large"),
    "payload_too_large": (413, "file_too_large", "The request is too large"),
    "unauthorized": (403, "auth_failed", "Missing API Key"),
    "invalid_api_key": (403, "auth_failed", "API Key invalid"),
    "insufficient_credits": (402, "insufficient_credits", "Insufficient credits"),
    "rate_limited": (429, "rate_limit_exceeded", "Rate limit exceeded"),
    "concurrency_limited": (429, "rate_limit_exceeded", "Rate limit exceeded"),
}


def runtime() -> Runtime:
    """The current app's connections (built by gateway.app.create_app)."""
    return current_app.extensions["bgr"]


def waiter() -> Waiter:
    """This process's waiter for job results (gateway/waiter.py), made on first use."""
    app = current_app
    found = app.extensions.get("bgr_waiter")
    if found is None:
        found = app.extensions.setdefault("bgr_waiter", Waiter(runtime().settings.redis_url))
    return found


def removebg_status(err: type[ApiError]) -> int:
    """The status remove.bg's format answers for one of our error classes."""
    return _REMOVEBG_ERRORS.get(err.code, (err.status,))[0]


def removebg_error(err: ApiError) -> tuple[dict[str, Any], int]:
    """remove.bg's error body and status for one of our errors."""
    status, code, title = _REMOVEBG_ERRORS.get(err.code, (err.status, err.code, err.message))
    code = getattr(err, "removebg_code", None) or code  # set by gateway/removebg.py's refusals
    return {"errors": [{"title": title, "code": code, "detail": err.message}]}, status


def error_response(err: ApiError) -> Response:
    """The JSON envelope and status (and headers) of one error, in the format of its API."""
    if has_request_context() and request.path.startswith(REMOVEBG_PREFIX):
        body, status = removebg_error(err)
        response = jsonify(body)
        response.status_code = status
    else:
        response = jsonify(err.to_dict())
        response.status_code = err.status
    for name, value in (err.headers or {}).items():
        response.headers[name] = value
    return response
