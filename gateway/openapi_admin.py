"""The admin API's own OpenAPI 3.1 document, served at GET /admin/v1/openapi.json (no auth).

Kept apart from the customer document: clients of the public API never see the admin routes.
tests/integration/test_admin_openapi.py checks it covers every /admin route and runs
schemathesis against a real gateway with a write token.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from gateway.openapi_account import USAGE_COUNTS
from gateway.openapi_base import (
    CURSOR_PARAMS,
    DATE_TIME,
    ERROR_SCHEMAS,
    JSON,
    NULLABLE_DATE_TIME,
    RANGE_PARAMS,
    error_response,
    error_schema,
    ok,
    page_of,
    ref,
    responses,
    wrapped,
)

bp = Blueprint("openapi_admin", __name__)
PATH = "/admin/v1/openapi.json"

CODES: dict[int, tuple[str, ...]] = {
    400: ("invalid_parameter", "bad_request"),
    401: ("invalid_admin_token",),
    403: ("insufficient_scope",),
    404: ("not_found", "user_not_found", "key_not_found", "job_not_found"),
    405: ("method_not_allowed",),
    409: ("too_many_keys",),
    413: ("payload_too_large",),
    415: ("unsupported_media_type",),
    503: ("service_unavailable",),
}
TEXTS: dict[int, str] = {
    400: "`invalid_parameter` (with `param`) or `bad_request`.",
    401: "`invalid_admin_token`: missing, unknown or revoked admin token (customer tokens "
         "and API keys are refused here).",
    403: "`insufficient_scope`: a read token on a write route.",
    404: "`not_found`, `user_not_found`, `key_not_found` or `job_not_found`.",
    405: "`method_not_allowed`.",
    409: "`too_many_keys`: the user holds the most active keys allowed.",
    413: "`payload_too_large`.",
    415: "`unsupported_media_type`: the body is not `application/json`.",
    503: "`service_unavailable`: PostgreSQL or Redis does not answer.",
}
READ = (401, 405, 503)
WRITE = (401, 403, 405, 413, 503)
SECURITY = [{"adminToken": []}]
_INT = {"type": "integer"}
_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}


def _obj(required: list[str], props: dict[str, Any], closed: bool = True) -> dict[str, Any]:
    return {"type": "object", "required": required, "additionalProperties": not closed,
            "properties": props}


def _closed(props: dict[str, Any]) -> dict[str, Any]:
    return _obj(list(props), props)


USER = {"id": _INT, "email": _STR, "created_at": DATE_TIME, "disabled_at": NULLABLE_DATE_TIME}
KEY = {"id": _INT, "user_id": _INT, "prefix": _STR, "created_at": DATE_TIME,
       "last_used_at": NULLABLE_DATE_TIME, "revoked_at": NULLABLE_DATE_TIME}
USER_STATE = {"user_id": _INT, "email": _STR, "created_at": DATE_TIME,
              "disabled_at": NULLABLE_DATE_TIME}
LEDGER_ROW = {"id": _INT, "created_at": DATE_TIME, "user_id": _INT, "email": _STR,
              "kind": {"enum": ["grant", "charge", "refund", "correction"]}, "amount": _INT,
              "job_id": {"type": ["string", "null"], "format": "uuid"}, "note": _NSTR}
ANY_JSON = {"type": ["object", "null"]}

SCHEMAS: dict[str, Any] = {
    **ERROR_SCHEMAS,
    **{f"Error{status}": error_schema(status, CODES) for status in CODES},
    "User": _closed(USER),
    "UserPage": page_of("User", "Users by id."),
    "NewUser": wrapped(_closed({"user_id": _INT, "api_key": _STR, "key_prefix": _STR,
                                "credits": _INT})),
    "UserDetail": wrapped(_closed({
        **USER_STATE, "credits": _INT, "ledger_balance": _INT,
        "keys": {"type": "array", "items": _closed(
            {k: v for k, v in KEY.items() if k not in ("id", "user_id")})},
        "recent_jobs": {"type": "array", "items": _closed({
            "id": {"type": "string", "format": "uuid"}, "status": _STR,
            "error_code": _NSTR, "created_at": DATE_TIME,
            "finished_at": NULLABLE_DATE_TIME})}})),
    "UserState": wrapped(_closed(USER_STATE)),
    "Key": _closed(KEY),
    "KeyPage": page_of("Key", "Keys by id (never a secret)."),
    "NewKey": wrapped(_closed({"user_id": _INT, "api_key": _STR, "key_prefix": _STR})),
    "RevokedKey": wrapped(_closed({"key_prefix": _STR, "user_id": _INT,
                                   "revoked_at": DATE_TIME})),
    "GrantRequest": _obj(["credits", "note"], {
        "credits": {"type": "integer", "not": {"const": 0},
                    "description": "Positive: a grant; negative: a correction."},
        "note": {"type": "string", "minLength": 1, "maxLength": 500}}),
    "CreateUserRequest": _obj(["email"], {
        "email": {"type": "string", "format": "email"},
        "credits": {"type": "integer", "minimum": 0},
        "note": {"type": "string", "minLength": 1, "maxLength": 500}}),
    "Balance": wrapped(_closed({"user_id": _INT, "credits": _INT})),
    "Reconciled": wrapped(_closed({"user_id": _INT, "redis_before": {"type": ["integer", "null"]},
                                   "credits": _INT})),
    "UsageRow": _closed({"date": {"type": "string", "format": "date"}, "user_id": _INT,
                         **USAGE_COUNTS}),
    "Usage": _closed({"success": {"const": True},
                      "data": {"type": "array", "items": ref("schemas", "UsageRow")},
                      "from": DATE_TIME, "to": DATE_TIME,
                      "totals": _closed(USAGE_COUNTS)}),
    "LedgerRow": _closed(LEDGER_ROW),
    "Ledger": _closed({"success": {"const": True}, "from": DATE_TIME, "to": DATE_TIME,
                       "data": {"type": "array", "items": ref("schemas", "LedgerRow")}}),
    "Job": wrapped(_obj(["id", "user_id", "email", "status", "params", "created_at"], {
        "id": {"type": "string", "format": "uuid"}, "user_id": _INT, "email": _STR,
        "api_key_id": {"type": ["integer", "null"]}, "key_prefix": _NSTR,
        "status": {"enum": ["queued", "running", "succeeded", "failed"]},
        "params": {"type": "object"}, "output_key": _NSTR, "output_image": _STR,
        "error_code": _NSTR, "error_message": _NSTR, "timings": ANY_JSON, "attempts": _INT,
        "created_at": DATE_TIME, "started_at": NULLABLE_DATE_TIME,
        "finished_at": NULLABLE_DATE_TIME, "deadline_at": DATE_TIME,
        "ledger": {"type": "array", "items": _closed({
            "id": _INT, "kind": _STR, "amount": _INT, "note": _NSTR,
            "created_at": DATE_TIME})}})),
    "AuditEntry": _closed({
        "id": _INT, "at": DATE_TIME, "actor": _STR,
        "admin_token_id": {"type": ["integer", "null"]}, "action": _STR, "target": _STR,
        "before": {}, "after": {}, "request_id": _NSTR}),
    "AuditPage": page_of("AuditEntry", "The audit trail, newest first."),
    "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
}


def _op(op_id: str, summary: str, ok_response: dict[str, Any], errors: tuple[int, ...],
        params: list[dict[str, Any]] | None = None, body: str | None = None,
        status: str = "200") -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": op_id, "tags": ["admin"], "summary": summary, "security": SECURITY,
        "parameters": params or [], "responses": responses(ok_response, errors, status=status)}
    if body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {JSON: {"schema": ref("schemas", body)}}}
    return operation


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"},
           "description": "The user's id; anything else is 404 `user_not_found`."}
USER_FILTER = _q("user_id", "Only this user.", {"type": "integer", "minimum": 1})

PATHS: dict[str, Any] = {
    "/admin/v1/users": {
        "get": _op("listUsers", "Users by id, a page at a time", ok("A page.", "UserPage"),
                   (400, *READ), [_q("email", "Any part of the address."), *CURSOR_PARAMS]),
        "post": _op("createUser", "A user with a first API key (shown once)",
                    ok("Created.", "NewUser"), (400, 415, *WRITE), body="CreateUserRequest",
                    status="201"),
    },
    "/admin/v1/users/{user_id}": {"get": _op(
        "showUser", "Balance, keys and recent jobs", ok("The user.", "UserDetail"),
        (404, *READ), [USER_ID])},
    "/admin/v1/users/{user_id}/disable": {"post": _op(
        "disableUser", "Disable: every key and token fails at once",
        ok("Disabled.", "UserState"), (404, *WRITE), [USER_ID])},
    "/admin/v1/users/{user_id}/enable": {"post": _op(
        "enableUser", "Enable a disabled user", ok("Enabled.", "UserState"), (404, *WRITE),
        [USER_ID])},
    "/admin/v1/users/{user_id}/keys": {"post": _op(
        "issueKey", "Another API key for the user (shown once)", ok("Issued.", "NewKey"),
        (404, 409, *WRITE), [USER_ID], status="201")},
    "/admin/v1/users/{user_id}/credits": {"post": _op(
        "grantCredits", "Grant or correct credits with a note; never below zero",
        ok("The balance after.", "Balance"), (400, 404, 415, *WRITE), [USER_ID],
        body="GrantRequest")},
    "/admin/v1/users/{user_id}/reconcile": {"post": _op(
        "reconcile", "Reset the live balance in Redis from the ledger",
        ok("Reconciled.", "Reconciled"), (404, *WRITE), [USER_ID])},
    "/admin/v1/keys": {"get": _op(
        "listKeys", "API keys by id; filter by prefix or user", ok("A page.", "KeyPage"),
        (400, *READ), [_q("prefix", "The start of a key prefix."), USER_FILTER,
                       *CURSOR_PARAMS])},
    "/admin/v1/keys/{prefix}": {"delete": _op(
        "revokeKey", "Revoke a key (idempotent); its tokens fail at once",
        ok("Revoked.", "RevokedKey"), (404, *WRITE),
        [{"name": "prefix", "in": "path", "required": True, "schema": {"type": "string"}}])},
    "/admin/v1/usage": {"get": _op(
        "usage", "Per user and UTC day: images succeeded, failed, credits charged, refunded",
        ok("Usage.", "Usage"), (400, *READ), [*RANGE_PARAMS, USER_FILTER])},
    "/admin/v1/ledger": {"get": {
        **_op("exportLedger", "Ledger rows of a range, oldest first, streamed",
              ok("JSON (format=json).", "Ledger"), (400, *READ),
              [*RANGE_PARAMS, USER_FILTER,
               _q("format", "json (default) or csv.", {"enum": ["json", "csv"]})]),
    }},
    "/admin/v1/jobs/{job_id}": {"get": _op(
        "getJob", "Any user's job, with owner, key and ledger rows", ok("The job.", "Job"),
        (404, *READ), [{"name": "job_id", "in": "path", "required": True,
                        "schema": {"type": "string"}}])},
    "/admin/v1/audit": {"get": _op(
        "audit", "The audit trail, newest first", ok("A page.", "AuditPage"), (400, *READ),
        [_q("target", "e.g. `user:12`, `key:bgr_3f9c1a2b4d5e`."),
         _q("action", "e.g. `credits.grant`."), *CURSOR_PARAMS])},
    PATH: {"get": {
        "operationId": "adminOpenapi", "tags": ["meta"], "summary": "This document",
        "security": [],
        "responses": {"200": ok("The OpenAPI 3.1 document.", "OpenApiDocument"),
                      "405": ref("responses", "Error405")}}},
}
# The CSV form of the export, next to its JSON form.
PATHS["/admin/v1/ledger"]["get"]["responses"]["200"]["content"]["text/csv"] = {
    "schema": {"type": "string", "description": "Header: " + ",".join(LEDGER_ROW) + "."}}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "bgremove admin API", "version": "1.0.0",
        "description": (
            "Operator endpoints. Authenticate with an admin token from `flask admin "
            "create-admin-token` (`Authorization: Bearer bga_...`): read tokens may GET, "
            "write tokens may do everything. Every write is in the audit trail. Errors use "
            "the customer API's envelope."),
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
    },
    "servers": [{"url": "/"}],
    "tags": [{"name": "admin"}, {"name": "meta"}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"adminToken": {
            "type": "http", "scheme": "bearer", "bearerFormat": "bga_<prefix>.<secret>",
            "description": "An admin token (not a customer token)."}},
        "schemas": SCHEMAS,
        "responses": {f"Error{s}": error_response(s, texts=TEXTS) for s in CODES},
    },
}

_BODY = json.dumps(DOCUMENT, separators=(",", ":")).encode()


@bp.get(PATH)
def openapi_json() -> Response:
    """The admin document (no auth: it holds no secret)."""
    return Response(_BODY, mimetype=JSON)
