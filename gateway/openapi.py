"""The OpenAPI 3.1 document of the whole API, served at GET /api/v1/openapi.json (no auth).

The document is written here by hand, next to the code it describes, and built once at import:
the endpoint answers the same pre-serialised bytes every time. tests/integration/test_openapi.py
checks that every Flask route is in it (and nothing else), and runs schemathesis against a real
gateway so that a response the document does not allow fails the build.
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
    ERROR_SCHEMA,
    JSON,
    error_response,
    error_schema,
    ok,
    ref,
    responses,
)
from shared.tasks import GRADIENT_DIRECTIONS, OUTPUT_FORMATS

bp = Blueprint("openapi", __name__)

PATH = "/api/v1/openapi.json"

_HEX = "#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})"

SCHEMAS: dict[str, Any] = {
    "Error": ERROR_SCHEMA,
    **{f"Error{status}": error_schema(status) for status in ERROR_CODES},
    "TokenRequest": {
        "type": "object",
        "required": ["key"],
        "properties": {"key": {"type": "string", "minLength": 1,
                               "description": "An API key, `<prefix>.<secret>`."}},
    },
    "Token": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "additionalProperties": False,
        "properties": {
            "access_token": {"type": "string", "description": "An HS256 JWT."},
            "token_type": {"const": "bearer"},
            "expires_in": {"type": "integer", "minimum": 1, "description": "Seconds."},
        },
    },
    "Credits": {
        "type": "object",
        "required": ["success", "credits", "user_id"],
        "additionalProperties": False,
        "properties": {
            "success": {"const": True},
            "credits": {"type": "integer"},
            "user_id": {"type": "integer"},
        },
    },
    "RemoveBackgroundRequest": {
        "type": "object",
        "required": ["input_image"],
        "additionalProperties": False,
        "properties": {
            "input_image": {
                "type": "string",
                "maxLength": 2048,
                "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#\\s]+",
                "description": "http or https URL of the input image.",
            },
            "output_format": {
                "type": ["string", "null"],
                "enum": [*OUTPUT_FORMATS, None],
                "default": "png",
                "description": "Format of the output (any case; null means png).",
            },
            "bg_color": {
                "type": ["string", "null"],
                "pattern": f"^(?:{_HEX})?$",
                "description": "`#RRGGBB` or `#RGB`; overrides the gradient. "
                               "Empty or null: none.",
            },
            "bg_gradient": {
                "type": ["string", "null"],
                "pattern": f"^(?:{_HEX}:{_HEX})?$",
                "description": "Two colours, `#a:#b`. Empty or null: none.",
            },
            "gradient_direction": {
                "type": ["string", "null"],
                "enum": [*GRADIENT_DIRECTIONS, "", None],
                "default": GRADIENT_DIRECTIONS[0],
            },
        },
    },
    "RemoveBackgroundResult": {
        "type": "object",
        "required": ["success", "message", "data", "credits_remaining"],
        "additionalProperties": False,
        "properties": {
            "success": {"const": True},
            "message": {"type": "string"},
            "data": ref("schemas", "ResultData"),
            "credits_remaining": {"type": "integer",
                                  "description": "The balance after this image's credit."},
        },
    },
    "ResultData": {
        "type": "object",
        "required": ["output_image", "input_image"],
        "additionalProperties": False,
        "properties": {
            "output_image": {"type": "string", "format": "uri",
                             "description": "Presigned (or public) URL of the output."},
            "input_image": {"type": "string", "description": "As sent."},
        },
    },
    "Job": {
        "type": "object",
        "required": ["success", "job_id", "status", "created_at", "finished_at"],
        "additionalProperties": False,
        "properties": {
            "success": {"const": True},
            "job_id": {"type": "string", "format": "uuid"},
            "status": {"enum": ["queued", "running", "succeeded", "failed"]},
            "created_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": ["string", "null"], "format": "date-time"},
            "message": {"type": "string", "description": "Once succeeded."},
            "data": ref("schemas", "ResultData"),
            "error": {
                "type": "object",
                "description": "Once failed: what the request would have answered.",
                "required": ["code", "message", "status"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "status": {"type": "integer"},
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "additionalProperties": False,
        "properties": {"status": {"const": "ok"}},
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "down", "components", "workers"],
        "additionalProperties": False,
        "properties": {
            "status": {"enum": ["ready", "unavailable"]},
            "down": {"type": "array",
                     "items": {"enum": ["redis", "postgres", "s3", "workers"]}},
            "components": {
                "type": "object",
                "required": ["redis", "postgres", "s3", "workers"],
                "additionalProperties": False,
                "properties": {name: ref("schemas", "Component")
                               for name in ("redis", "postgres", "s3", "workers")},
            },
            "workers": {"type": "array", "items": ref("schemas", "Worker")},
        },
    },
    "Component": {
        "type": "object",
        "required": ["ok"],
        "additionalProperties": False,
        "properties": {
            "ok": {"type": "boolean"},
            "error": {"type": "string", "description": "Why it is down."},
            "count": {"type": "integer", "minimum": 0, "description": "`workers`: live ones."},
        },
    },
    "Worker": {
        "type": "object",
        "description": "A live worker's heartbeat.",
        "required": ["hostname", "pid", "queue"],
        "properties": {
            "hostname": {"type": "string"},
            "pid": {"type": "integer"},
            "queue": {"type": "string"},
            "model": {"type": "string"},
            "providers": {"type": "array", "items": {"type": "string"}},
        },
    },
    **ACCOUNT_SCHEMAS,
    "OpenApiDocument": {
        "type": "object",
        "required": ["openapi", "info", "paths"],
        "properties": {"openapi": {"type": "string", "pattern": "^3\\.1\\."}},
    },
}


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
            JSON: {"schema": ref("schemas", "RemoveBackgroundRequest")}}},
        "responses": responses(
            ok("The output image.", "RemoveBackgroundResult"),
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
        "responses": responses(ok("The job.", "Job"), (*AUTH_ERRORS, 404, 429),
                                rate_limited=True),
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
    "tags": [{"name": name} for name in ("auth", "account", "images", "health", "meta")],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "A token from POST /api/token (or /api/refresh)."}},
        "schemas": SCHEMAS,
        "responses": {f"Error{status}": error_response(status) for status in ERROR_CODES},
    },
}

_BODY = json.dumps(DOCUMENT, separators=(",", ":")).encode()


@bp.get(PATH)
def openapi_json() -> Response:
    """The document, as built at import (no auth)."""
    return Response(_BODY, mimetype=JSON)
