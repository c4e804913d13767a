"""The OpenAPI 3.1 document of the whole API, served at GET /api/v1/openapi.json (no auth).

The request and response bodies are generated from pydantic models: requests from the models
that validate them (gateway/schemas.py, via gateway/openapi_bodies.py), so the document cannot
drift from the validation, and responses from gateway/response_models.py. The error catalogue
and response helpers, shared with the admin document, are in gateway/openapi_base.py; the
self-service routes' paths and schemas in gateway/openapi_account.py; the remove.bg-compatible
paths in gateway/openapi_bodies.py. This module assembles them with the paths, statuses and
headers of the other routes.
Built once at import: the endpoint answers the same pre-serialised bytes every time.
tests/integration/test_openapi.py checks that every Flask route is in it (and nothing else), and
runs schemathesis against a real gateway so that a response the document does not allow fails.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from gateway.openapi_account import ACCOUNT_PATHS, ACCOUNT_SCHEMAS
from gateway.openapi_base import (
    AUTH_ERRORS,
    BEARER,
    ERROR_CODES,
    ERROR_SCHEMAS,
    JSON,
    error_response,
    error_schema,
    ok,
    ref,
    responses,
)
from gateway.openapi_bodies import API_KEY_SCHEME, MULTIPART, REMOVEBG_PATHS, request_schemas
from gateway.response_models import response_schemas

bp = Blueprint("openapi", __name__)

PATH = "/api/v1/openapi.json"


def _components(*parts: dict[str, Any]) -> dict[str, Any]:
    """The parts merged into one components.schemas; a name defined twice is an error."""
    merged: dict[str, Any] = {}
    for part in parts:
        if clash := merged.keys() & part.keys():
            raise ValueError(f"OpenAPI schemas defined twice: {sorted(clash)}")
        merged.update(part)
    return merged


SCHEMAS: dict[str, Any] = _components(
    request_schemas(),  # gateway/schemas.py, the models that validate the requests
    response_schemas(),  # gateway/response_models.py
    ERROR_SCHEMAS,
    {f"Error{status}": error_schema(status) for status in ERROR_CODES},
    ACCOUNT_SCHEMAS,
)


JOB_ID_PARAM = {"name": "job_id", "in": "path", "required": True,
                "description": "The job id (a UUID); another user's job is 404.",
                "schema": {"type": "string"}}


def _with_header(answers: dict[str, Any], name: str, description: str) -> dict[str, Any]:
    """answers with one more header on its 200."""
    first = answers["200"]
    headers = {**first.get("headers", {}), name: {"description": description, "required": True,
                                                  "schema": {"type": "string"}}}
    return {**answers, "200": {**first, "headers": headers}}


PATHS: dict[str, Any] = {
    "/api/token": {"post": {
        "operationId": "createToken",
        "tags": ["auth"],
        "summary": "Exchange an API key for an access token",
        "security": [],
        "requestBody": {"required": True,
                        "content": {JSON: {"schema": ref("schemas", "TokenRequest")}}},
        "responses": responses(ok("An access token.", "Token"),
                                (400, 401, 405, 413, 503)),
    }},
    "/api/refresh": {"post": {
        "operationId": "refreshToken",
        "tags": ["auth"],
        "summary": "A new access token for a valid, unexpired one",
        "description": "The request body, if any, is ignored.",
        "security": BEARER,
        "responses": responses(ok("A new access token.", "Token"), (*AUTH_ERRORS, 413)),
    }},
    "/api/v1/user/credits": {"get": {
        "operationId": "getCredits",
        "tags": ["account"],
        "summary": "The user's credit balance",
        "security": BEARER,
        "responses": responses(ok("The balance.", "Credits"), (*AUTH_ERRORS, 429),
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
            JSON: {"schema": ref("schemas", "RemoveBackgroundRequest")},
            MULTIPART: {"schema": ref("schemas", "RemoveBackgroundMultipart")}}},
        "responses": _with_header(responses(
            ok("The output image.", "RemoveBackgroundResult"),
            (400, 401, 402, 405, 413, 415, 422, 429, 500, 502, 503, 504), rate_limited=True),
            "X-Job-Id", "The job's id (an extension: the body is the seed's)."),
    }},
    "/api/v1/jobs/{job_id}": {"get": {
        "operationId": "getJob",
        "tags": ["images"],
        "summary": "A job's status; once done its data (or error)",
        "security": BEARER,
        "parameters": [JOB_ID_PARAM],
        "responses": responses(ok("The job.", "Job"), (*AUTH_ERRORS, 404, 429),
                                rate_limited=True),
    }},
    "/api/v1/jobs/{job_id}/output": {"get": {
        "operationId": "getJobOutput",
        "tags": ["images"],
        "summary": "A succeeded job's output image, through the gateway",
        "description": (
            "The bytes `output_image` points at, from this origin with the owner's token (the "
            "web pages use it: they make no request to another origin). 404 for another "
            "user's job, one without an output, or an output past its retention."),
        "security": BEARER,
        "parameters": [JOB_ID_PARAM],
        "responses": responses({"description": "The output file.", "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in ("image/png", "image/jpeg", "image/webp", "application/zip")}},
            (*AUTH_ERRORS, 404, 429, 503), rate_limited=True),
    }},
    **ACCOUNT_PATHS,
    "/healthz": {"get": {
        "operationId": "healthz",
        "tags": ["health"],
        "summary": "Liveness: the process is up (no dependency is touched)",
        "security": [],
        "responses": responses(ok("Up.", "Health"), (405,)),
    }},
    "/readyz": {"get": {
        "operationId": "readyz",
        "tags": ["health"],
        "summary": "Readiness: Redis, PostgreSQL, S3 and at least one worker answer",
        "security": [],
        "responses": {
            "200": ok("Ready.", "Readiness"),
            "503": ok("Not ready: `down` names what is down.", "Readiness"),
            "405": ref("responses", "Error405"),
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
            "405": ref("responses", "Error405"),
        },
    }},
    **REMOVEBG_PATHS,
    PATH: {"get": {
        "operationId": "openapi",
        "tags": ["meta"],
        "summary": "This document",
        "security": [],
        "responses": responses(ok("The OpenAPI 3.1 document.", "OpenApiDocument"), (405,)),
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
        "responses": {f"Error{status}": error_response(status) for status in ERROR_CODES},
    },
}

_BODY = json.dumps(DOCUMENT, separators=(",", ":")).encode()


@bp.get(PATH)
def openapi_json() -> Response:
    """The document, as built at import (no auth)."""
    return Response(_BODY, mimetype=JSON)
