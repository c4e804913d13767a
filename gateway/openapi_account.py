"""The OpenAPI paths and schemas of the customer's self-service routes (gateway/selfservice.py),
merged into the customer document (gateway/openapi.py)."""

from __future__ import annotations

from typing import Any

from gateway.openapi_base import (
    AUTH_ERRORS,
    BEARER,
    CURSOR_PARAMS,
    DATE_TIME,
    NULLABLE_DATE_TIME,
    RANGE_PARAMS,
    ok,
    page_of,
    ref,
    responses,
    wrapped,
)
from gateway.services.customer import JOB_STATUSES

_COUNT = {"type": "integer", "minimum": 0}
USAGE_COUNTS = {name: _COUNT for name in ("images_succeeded", "images_failed",
                                          "credits_charged", "credits_refunded")}
KEY_PREFIX = {"type": "string", "description": "The key's public prefix (`bgr_...`)."}

ACCOUNT_SCHEMAS: dict[str, Any] = {
    "JobSummary": {
        "type": "object",
        "required": ["job_id", "status", "created_at", "finished_at", "input_image",
                     "output_format", "credits_charged"],
        "additionalProperties": False,
        "properties": {
            "job_id": {"type": "string", "format": "uuid"},
            "status": {"enum": list(JOB_STATUSES)},
            "created_at": DATE_TIME,
            "finished_at": NULLABLE_DATE_TIME,
            "input_image": {"type": ["string", "null"]},
            "output_format": {"type": ["string", "null"]},
            "credits_charged": {"type": "integer", "minimum": 0,
                                "description": "Credits this job cost (its charge net of "
                                               "refunds, from the ledger)."},
            "output_image": {"type": "string", "format": "uri",
                             "description": "Once succeeded (and while the output is kept)."},
            "error": {
                "type": "object", "description": "Once failed.",
                "required": ["code", "message", "status"], "additionalProperties": False,
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "status": {"type": "integer"}},
            },
        },
    },
    "JobPage": page_of("JobSummary", "The caller's jobs, newest first."),
    "UsageDay": {
        "type": "object", "required": ["date", *USAGE_COUNTS], "additionalProperties": False,
        "properties": {"date": {"type": "string", "format": "date",
                                "description": "The UTC day."}, **USAGE_COUNTS},
    },
    "Usage": {
        "type": "object", "required": ["success", "data", "from", "to", "totals"],
        "additionalProperties": False,
        "properties": {
            "success": {"const": True},
            "data": {"type": "array", "items": ref("schemas", "UsageDay"),
                     "description": "Days with activity, oldest first."},
            "from": DATE_TIME, "to": DATE_TIME,
            "totals": {"type": "object", "required": list(USAGE_COUNTS),
                       "additionalProperties": False, "properties": USAGE_COUNTS},
        },
    },
    "ApiKey": {
        "type": "object",
        "required": ["key_prefix", "created_at", "last_used_at", "revoked_at", "current"],
        "additionalProperties": False,
        "properties": {"key_prefix": KEY_PREFIX, "created_at": DATE_TIME,
                       "last_used_at": NULLABLE_DATE_TIME, "revoked_at": NULLABLE_DATE_TIME,
                       "current": {"type": "boolean",
                                   "description": "The key of the token of this request."}},
    },
    "ApiKeys": wrapped({"type": "array", "items": ref("schemas", "ApiKey")},
                       "Every key of the caller, revoked ones included."),
    "NewApiKey": wrapped({
        "type": "object", "required": ["api_key", "key_prefix"], "additionalProperties": False,
        "properties": {"api_key": {"type": "string",
                                   "description": "`<prefix>.<secret>`: shown this once."},
                       "key_prefix": KEY_PREFIX}}, "A new key."),
    "RevokedKey": wrapped({
        "type": "object", "required": ["key_prefix", "revoked_at"],
        "additionalProperties": False,
        "properties": {"key_prefix": KEY_PREFIX, "revoked_at": DATE_TIME}}, "Revoked."),
}

ACCOUNT_PATHS: dict[str, Any] = {
    "/api/v1/jobs": {"get": {
        "operationId": "listJobs",
        "tags": ["account"],
        "summary": "The caller's jobs, newest first, a page at a time",
        "security": BEARER,
        "parameters": [{"name": "status", "in": "query", "required": False,
                        "schema": {"enum": list(JOB_STATUSES)}}, *CURSOR_PARAMS],
        "responses": responses(ok("A page of jobs.", "JobPage"), (400, *AUTH_ERRORS, 429),
                               rate_limited=True),
    }},
    "/api/v1/user/usage": {"get": {
        "operationId": "getUsage",
        "tags": ["account"],
        "summary": "Per UTC day: images succeeded and failed, credits charged and refunded",
        "description": "A failed image is never charged; `credits_refunded` counts charges "
                       "given back after the fact. At most 366 days per request.",
        "security": BEARER,
        "parameters": RANGE_PARAMS,
        "responses": responses(ok("Usage by day.", "Usage"), (400, *AUTH_ERRORS, 429),
                               rate_limited=True),
    }},
    "/api/v1/user/keys": {
        "get": {
            "operationId": "listKeys",
            "tags": ["account"],
            "summary": "The caller's API keys (prefixes only)",
            "security": BEARER,
            "responses": responses(ok("The keys.", "ApiKeys"), (*AUTH_ERRORS, 429),
                                   rate_limited=True),
        },
        "post": {
            "operationId": "createKey",
            "tags": ["account"],
            "summary": "A new API key for the caller, shown once",
            "description": "The request body, if any, is ignored. At most 25 active keys.",
            "security": BEARER,
            "responses": responses(ok("The new key.", "NewApiKey"),
                                   (*AUTH_ERRORS, 409, 413, 429), rate_limited=True,
                                   status="201"),
        },
    },
    "/api/v1/user/keys/{prefix}": {"delete": {
        "operationId": "revokeKey",
        "tags": ["account"],
        "summary": "Revoke one of the caller's keys; its tokens fail at once",
        "description": "The last active key is revoked only with `confirm=true` (else 409 "
                       "`last_active_key`): without a key the account is locked out.",
        "security": BEARER,
        "parameters": [
            {"name": "prefix", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "The key's prefix; another user's key is 404."},
            {"name": "confirm", "in": "query", "required": False,
             "schema": {"type": "boolean"}},
        ],
        "responses": responses(ok("Revoked (again: unchanged).", "RevokedKey"),
                               (400, *AUTH_ERRORS, 404, 409, 429), rate_limited=True),
    }},
}
