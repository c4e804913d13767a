"""The OpenAPI 3.1 document of the whole API, served at GET /api/v1/openapi.json (no auth).

Every body schema is generated from a pydantic model: requests from the models that validate
them (gateway/schemas.py), so the document cannot drift from the validation, and responses from
gateway/responses.py; this module declares the paths, statuses and headers around them.
Built once at import: the endpoint answers the same pre-serialised bytes every time.
tests/integration/test_openapi.py checks that every Flask route is in it (and nothing else), and
runs schemathesis against a real gateway so that a response the document does not allow fails.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from gateway.openapi_bodies import API_KEY_SCHEME, MULTIPART, REMOVEBG_PATHS, request_schemas
from gateway.responses import response_schemas

bp = Blueprint("openapi", __name__)

PATH = "/api/v1/openapi.json"
JSON = "application/json"
REF = "#/components"

# Which error codes each status carries (README "Errors"); every one is in shared/errors.py.
ERROR_CODES: dict[int, tuple[str, ...]] = {
    400: ("invalid_parameter", "bad_request"),
    401: ("unauthorized", "invalid_api_key", "invalid_token", "token_expired"),
    402: ("insufficient_credits",),
    404: ("not_found", "job_not_found"),
    405: ("method_not_allowed",),
    413: ("payload_too_large", "input_too_large"),
    415: ("unsupported_media_type",),
    422: ("invalid_image", "unknown_foreground", "idempotency_key_mismatch"),
    429: ("rate_limited",),
    500: ("processing_failed", "internal_error"),
    502: ("input_unreachable", "input_url_forbidden"),
    503: ("overloaded", "service_unavailable", "storage_unavailable"),
    504: ("timeout",),
}

_ERROR_TEXT: dict[int, str] = {
    400: "Invalid request: `invalid_parameter` (with `param`, the field; unknown fields "
         "included) or `bad_request`.",
    401: "Not authenticated: `unauthorized` (missing or malformed header), `invalid_api_key`, "
         "`invalid_token` (bad signature, `alg: none`, tampered, revoked key), `token_expired`.",
    402: "`insufficient_credits` (with `credits`, the balance).",
    404: "`not_found`, or `job_not_found` (unknown job, or another user's).",
    405: "`method_not_allowed`: another method on this path.",
    413: "`payload_too_large` (request body over `MAX_REQUEST_BYTES`, chunked ones included) "
         "or `input_too_large` (input bytes or pixels).",
    415: "`unsupported_media_type`: the body is neither `application/json` nor "
         "`multipart/form-data`.",
    422: "`invalid_image` (not decodable, truncated, HTML, empty) or "
         "`idempotency_key_mismatch` (an `Idempotency-Key` reused with another body).",
    429: "`rate_limited`: over `RATE_LIMIT_PER_MINUTE` for this user; never charged.",
    500: "`processing_failed`: the worker failed unexpectedly (the credit is refunded).",
    502: "`input_unreachable` (DNS, refused, timeout, non-2xx) or `input_url_forbidden` "
         "(loopback, private, link-local addresses; other schemes; credentials in the URL).",
    503: "`overloaded` (queue deeper than `QUEUE_MAX_DEPTH`, with `Retry-After`), "
         "`service_unavailable` or `storage_unavailable`.",
    504: "`timeout`: not finished within `REQUEST_TIMEOUT_SECONDS`; `data.job_id` and "
         "`data.status_url` tell where to poll. The job goes on and is charged once, on success.",
}


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{REF}/{kind}/{name}"}


def _header(description: str, minimum: int = 0, required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required,
            "schema": {"type": "integer", "minimum": minimum}}


def _retry_after(required: bool) -> dict[str, Any]:
    return _header("Seconds to wait before retrying." if required else
                   "Seconds to wait before retrying (`overloaded` only).", 1, required)


def _rate_limit_headers(required: bool) -> dict[str, Any]:
    """X-RateLimit-*: on every response of a rate-limited route once the token is verified,
    while the limit is on and Redis answers (the limiter fails open); always on its 429."""
    return {
        "X-RateLimit-Limit": _header("Requests allowed per user per minute.", 1, required),
        "X-RateLimit-Remaining": _header("Requests left in the current one-minute window.",
                                         0, required),
        "X-RateLimit-Reset": _header("Seconds until the current window ends.", 1, required),
    }


def _error_schema(status: int) -> dict[str, Any]:
    return {
        "allOf": [_ref("schemas", "Error")],
        "properties": {"error": {"properties": {"code": {"enum": list(ERROR_CODES[status])}}}},
    }


def _error_response(status: int, rate_limited: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _ERROR_TEXT[status],
        "content": {JSON: {"schema": _ref("schemas", f"Error{status}")}},
    }
    headers: dict[str, Any] = {}
    if status in (429, 503):
        headers["Retry-After"] = _retry_after(required=status == 429)
    if rate_limited and status != 401:  # a 401 is refused before the limiter counts it
        headers.update(_rate_limit_headers(required=status == 429))
    if headers:
        response["headers"] = headers
    return response


def _responses(ok: dict[str, Any], statuses: tuple[int, ...],
               rate_limited: bool = False) -> dict[str, Any]:
    """200 plus the listed error statuses; rate-limited routes name their X-RateLimit headers."""
    if not rate_limited:
        return {"200": ok, **{str(s): _ref("responses", f"Error{s}") for s in statuses}}
    return {"200": {**ok, "headers": _rate_limit_headers(required=False)},
            **{str(s): _error_response(s, rate_limited=True) for s in statuses}}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("schemas", schema)}}}


SCHEMAS: dict[str, Any] = {
    **request_schemas(),  # gateway/schemas.py, the models that validate the requests
    **response_schemas(),  # gateway/responses.py
    **{f"Error{status}": _error_schema(status) for status in ERROR_CODES},
}

BEARER = [{"bearerAuth": []}]
# Authenticated routes: the token check reads PostgreSQL (revoked keys), so 503 is possible.
AUTH_ERRORS = (401, 405, 503)

PATHS: dict[str, Any] = {
    "/api/token": {"post": {
        "operationId": "createToken",
        "tags": ["auth"],
        "summary": "Exchange an API key for an access token",
        "security": [],
        "requestBody": {"required": True,
                        "content": {JSON: {"schema": _ref("schemas", "TokenRequest")}}},
        "responses": _responses(_ok("An access token.", "Token"),
                                (400, 401, 405, 413, 503)),
    }},
    "/api/refresh": {"post": {
        "operationId": "refreshToken",
        "tags": ["auth"],
        "summary": "A new access token for a valid, unexpired one",
        "description": "The request body, if any, is ignored.",
        "security": BEARER,
        "responses": _responses(_ok("A new access token.", "Token"), (*AUTH_ERRORS, 413)),
    }},
    "/api/v1/user/credits": {"get": {
        "operationId": "getCredits",
        "tags": ["account"],
        "summary": "The user's credit balance",
        "security": BEARER,
        "responses": _responses(_ok("The balance.", "Credits"), (*AUTH_ERRORS, 429),
                                rate_limited=True),
    }},
    "/api/v1/image/remove-background": {"post": {
        "operationId": "removeBackground",
        "tags": ["images"],
        "summary": "Remove the background of an image",
        "description": (
            "Reserves one credit, queues the job and holds the request open until the worker "
            "answers (or `REQUEST_TIMEOUT_SECONDS` pass: 504 with where to poll). One credit "
            "per image that produced an output; a failed job costs nothing."),
        "security": BEARER,
        "parameters": [{
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": (
                "Makes retries safe: a retry with the same key (1 to 255 printable ASCII "
                "characters, else 400) within 24 h returns the first result and is charged "
                "once; the same key with a different body is 422 `idempotency_key_mismatch`."),
            "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                       "pattern": "^[ -~]+$"},
        }],
        "requestBody": {"required": True, "content": {
            JSON: {"schema": _ref("schemas", "RemoveBackgroundRequest")},
            MULTIPART: {"schema": _ref("schemas", "RemoveBackgroundMultipart")}}},
        "responses": _responses(
            _ok("The output image.", "RemoveBackgroundResult"),
            (400, 401, 402, 405, 413, 415, 422, 429, 500, 502, 503, 504), rate_limited=True),
    }},
    "/api/v1/jobs/{job_id}": {"get": {
        "operationId": "getJob",
        "tags": ["images"],
        "summary": "A job's status; once done its data (or error)",
        "security": BEARER,
        "parameters": [{"name": "job_id", "in": "path", "required": True,
                        "description": "The job id (a UUID); another user's job is 404.",
                        "schema": {"type": "string"}}],
        "responses": _responses(_ok("The job.", "Job"), (*AUTH_ERRORS, 404, 429),
                                rate_limited=True),
    }},
    "/healthz": {"get": {
        "operationId": "healthz",
        "tags": ["health"],
        "summary": "Liveness: the process is up (no dependency is touched)",
        "security": [],
        "responses": _responses(_ok("Up.", "Health"), (405,)),
    }},
    "/readyz": {"get": {
        "operationId": "readyz",
        "tags": ["health"],
        "summary": "Readiness: Redis, PostgreSQL, S3 and at least one worker answer",
        "security": [],
        "responses": {
            "200": _ok("Ready.", "Readiness"),
            "503": _ok("Not ready: `down` names what is down.", "Readiness"),
            "405": _ref("responses", "Error405"),
        },
    }},
    "/metrics": {"get": {
        "operationId": "metrics",
        "tags": ["meta"],
        "summary": "Prometheus metrics of every gunicorn worker, plus the queue depth",
        "security": [],
        "responses": {
            "200": {"description": "The Prometheus text exposition.",
                    "content": {"text/plain": {"schema": {"type": "string"}}}},
            "405": _ref("responses", "Error405"),
        },
    }},
    **REMOVEBG_PATHS,
    PATH: {"get": {
        "operationId": "openapi",
        "tags": ["meta"],
        "summary": "This document",
        "security": [],
        "responses": _responses(_ok("The OpenAPI 3.1 document.", "OpenApiDocument"), (405,)),
    }},
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "bgremove",
        "version": "1.0.0",
        "summary": "Self-hosted background removal, HeySwap-API compatible.",
        "description": (
            "Every error shares one envelope: `{\"success\": false, \"message\": ..., "
            "\"error\": {\"code\": ..., ...}}`, never a stack trace or HTML. Any method a path "
            "does not serve is 405 `method_not_allowed`; an unknown path is 404 `not_found`."),
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
    },
    "servers": [{"url": "/"}],
    "tags": [{"name": name} for name in ("auth", "account", "images", "remove.bg", "health",
                                         "meta")],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A token from POST /api/token (or /api/refresh)."},
            "apiKey": API_KEY_SCHEME},
        "schemas": SCHEMAS,
        "responses": {f"Error{status}": _error_response(status) for status in ERROR_CODES},
    },
}

_BODY = json.dumps(DOCUMENT, separators=(",", ":")).encode()


@bp.get(PATH)
def openapi_json() -> Response:
    """The document, as built at import (no auth)."""
    return Response(_BODY, mimetype=JSON)
