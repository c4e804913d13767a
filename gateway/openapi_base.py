"""Building blocks of the OpenAPI documents (customer API and admin API): the error
envelope, error responses by status and code, rate-limit headers, 200 responses.
"""

from __future__ import annotations

from typing import Any

from gateway.response_models import Error, response_schemas

JSON = "application/json"
REF = "#/components"

# Which error codes each status carries (docs/api.md, "Errors"); every one is in shared/errors.py.
ERROR_CODES: dict[int, tuple[str, ...]] = {
    400: ("invalid_parameter", "bad_request"),
    401: ("unauthorized", "invalid_api_key", "invalid_token", "token_expired"),
    402: ("insufficient_credits",),
    404: ("not_found", "job_not_found", "key_not_found"),
    405: ("method_not_allowed",),
    409: ("last_active_key", "too_many_keys"),
    413: ("payload_too_large", "input_too_large"),
    415: ("unsupported_media_type",),
    422: ("invalid_image", "unknown_foreground", "idempotency_key_mismatch"),
    429: ("rate_limited",),
    500: ("processing_failed", "internal_error"),
    502: ("input_unreachable", "input_url_forbidden"),
    503: ("overloaded", "service_unavailable", "storage_unavailable"),
    504: ("timeout",),
}

ERROR_TEXT: dict[int, str] = {
    400: "Invalid request: `invalid_parameter` (with `param`, the field; unknown fields "
         "included) or `bad_request`.",
    401: "Not authenticated: `unauthorized` (missing or malformed header), `invalid_api_key`, "
         "`invalid_token` (bad signature, `alg: none`, tampered, revoked key), `token_expired`.",
    402: "`insufficient_credits` (with `credits`, the balance).",
    404: "`not_found`, `job_not_found` (unknown job, or another user's) or `key_not_found` "
         "(unknown key, or another user's).",
    405: "`method_not_allowed`: another method on this path.",
    409: "`last_active_key` (revoking the last active key needs `confirm=true`) or "
         "`too_many_keys` (revoke one first).",
    413: "`payload_too_large` (request body over `MAX_REQUEST_BYTES`, chunked ones included) "
         "or `input_too_large` (input bytes or pixels).",
    415: "`unsupported_media_type`: the body is neither `application/json` nor "
         "`multipart/form-data`.",
    422: "`invalid_image` (not decodable, truncated, HTML, empty), `unknown_foreground` (no "
         "subject found) or `idempotency_key_mismatch` (an `Idempotency-Key` reused with "
         "another body).",
    429: "`rate_limited`: over `RATE_LIMIT_PER_MINUTE` for this user; never charged.",
    500: "`processing_failed`: the worker failed unexpectedly (the credit is refunded).",
    502: "`input_unreachable` (DNS, refused, timeout, non-2xx) or `input_url_forbidden` "
         "(loopback, private, link-local addresses; other schemes; credentials in the URL).",
    503: "`overloaded` (queue deeper than `QUEUE_MAX_DEPTH`, with `Retry-After`), "
         "`service_unavailable` or `storage_unavailable`.",
    504: "`timeout`: not finished within `REQUEST_TIMEOUT_SECONDS`; `data.job_id` and "
         "`data.status_url` tell where to poll. The job goes on and is charged once, on success.",
}


BEARER = [{"bearerAuth": []}]
# Authenticated routes: the token check reads PostgreSQL (revoked keys), so 503 is possible.
AUTH_ERRORS = (401, 405, 503)

Codes = dict[int, tuple[str, ...]]
Texts = dict[int, str]


def ref(kind: str, name: str) -> dict[str, str]:
    """A $ref into the document's components."""
    return {"$ref": f"{REF}/{kind}/{name}"}


def header(description: str, minimum: int = 0, required: bool = False) -> dict[str, Any]:
    """An integer response header."""
    return {"description": description, "required": required,
            "schema": {"type": "integer", "minimum": minimum}}


def retry_after(required: bool) -> dict[str, Any]:
    """The Retry-After header (always on a 429; on a 503 only when overloaded)."""
    return header("Seconds to wait before retrying." if required else
                  "Seconds to wait before retrying (`overloaded` only).", 1, required)


def rate_limit_headers(required: bool) -> dict[str, Any]:
    """X-RateLimit-*: on every response of a rate-limited route once the token is verified,
    while the limit is on and Redis answers (the limiter fails open); always on its 429."""
    return {
        "X-RateLimit-Limit": header("Requests allowed per user per minute.", 1, required),
        "X-RateLimit-Remaining": header("Requests left in the current one-minute window.",
                                        0, required),
        "X-RateLimit-Reset": header("Seconds until the current window ends.", 1, required),
    }


def error_schema(status: int, codes: Codes = ERROR_CODES) -> dict[str, Any]:
    """The envelope, its code limited to those of `status`."""
    return {
        "allOf": [ref("schemas", "Error")],
        "properties": {"error": {"properties": {"code": {"enum": list(codes[status])}}}},
    }


def error_response(status: int, rate_limited: bool = False,
                   texts: Texts = ERROR_TEXT) -> dict[str, Any]:
    """The response of one error status, with its headers."""
    response: dict[str, Any] = {
        "description": texts[status],
        "content": {JSON: {"schema": ref("schemas", f"Error{status}")}},
    }
    headers: dict[str, Any] = {}
    if status in (429, 503):
        headers["Retry-After"] = retry_after(required=status == 429)
    if rate_limited and status != 401:  # a 401 is refused before the limiter counts it
        headers.update(rate_limit_headers(required=status == 429))
    if headers:
        response["headers"] = headers
    return response


def responses(ok: dict[str, Any], statuses: tuple[int, ...], rate_limited: bool = False,
              status: str = "200") -> dict[str, Any]:
    """`status` (200) plus the listed error statuses; rate-limited routes name their
    X-RateLimit headers."""
    if not rate_limited:
        return {status: ok, **{str(s): ref("responses", f"Error{s}") for s in statuses}}
    return {status: {**ok, "headers": rate_limit_headers(required=False)},
            **{str(s): error_response(s, rate_limited=True) for s in statuses}}


def ok(description: str, schema: str) -> dict[str, Any]:
    """A JSON success response of a components schema."""
    return {"description": description, "content": {JSON: {"schema": ref("schemas", schema)}}}


def page_of(item: str, description: str) -> dict[str, Any]:
    """A listing page: {"success": true, "data": [item...], "next_cursor": str|null}."""
    return {
        "type": "object", "description": description,
        "required": ["success", "data", "next_cursor"], "additionalProperties": False,
        "properties": {
            "success": {"const": True},
            "data": {"type": "array", "items": ref("schemas", item)},
            "next_cursor": {"type": ["string", "null"],
                            "description": "Pass as `cursor` for the next page; null on the "
                                           "last page."},
        },
    }


def wrapped(schema: dict[str, Any], status_description: str = "") -> dict[str, Any]:
    """{"success": true, "data": schema}."""
    return {"type": "object", "description": status_description,
            "required": ["success", "data"], "additionalProperties": False,
            "properties": {"success": {"const": True}, "data": schema}}


DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
CURSOR_PARAMS = [
    {"name": "limit", "in": "query", "required": False,
     "description": "Page size, 1 to 200 (default 50).",
     "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
    {"name": "cursor", "in": "query", "required": False,
     "description": "`next_cursor` of the previous page.", "schema": {"type": "string"}},
]
RANGE_PARAMS = [
    {"name": "from", "in": "query", "required": False,
     "description": "ISO 8601 date or date-time (UTC if no offset), inclusive; default 30 "
                    "days before `to`.", "schema": {"type": "string"}},
    {"name": "to", "in": "query", "required": False,
     "description": "ISO 8601 date or date-time, exclusive; default now.",
     "schema": {"type": "string"}},
]


# The one error envelope of every failed request (both APIs), from its pydantic model, with
# the models it nests; error_schema() narrows its code per status.
ERROR_SCHEMAS: dict[str, Any] = response_schemas((Error,))
