"""The customer OpenAPI 3.1 document, served at GET /api/v1/openapi.json (no auth).

Generated from the contract each customer route declares (gateway/contract.py, built by
gateway/document.py): the document cannot drift from the validation, the answers or the errors
a route raises. Built once at import: the endpoint answers the same pre-serialised bytes every
time. tests/integration/test_openapi.py checks that every Flask route is in it (and nothing
else), and runs schemathesis against a real gateway so that an answer it does not allow fails.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from gateway import api, auth, health, models_api, observability, removebg, selfservice
from gateway.contract import JSON, Answer, Routes
from gateway.document import build
from gateway.response_models import OpenApiDocument

# The words no model or error class holds: the title and introduction, and what an error code
# means in more words than its class's default message (shared/errors.py). Everything else in
# the document is generated from the routes.
LICENSE = {"name": "Apache-2.0", "identifier": "Apache-2.0"}

CUSTOMER: dict[str, Any] = {
    "title": "bgremove",
    "version": "1.0.0",
    "summary": "Self-hosted background removal, HeySwap-API compatible.",
    "description": (
        "Every error shares one envelope: `{\"success\": false, \"message\": ..., "
        "\"error\": {\"code\": ..., ...}}`, never a stack trace or HTML. Any method a path "
        "does not serve is 405 `method_not_allowed`; an unknown path is 404 `not_found`."),
    "license": LICENSE,
}

# Error code -> what it means for a client (else the class's default message is shown).
HINTS: dict[str, str] = {
    "invalid_parameter": "with `param`, the field (unknown fields included).",
    "unauthorized": "missing or malformed credentials header.",
    "invalid_api_key": "unknown or revoked key, or a disabled account.",
    "invalid_token": "bad signature, `alg: none`, tampered, or its key revoked.",
    "invalid_admin_token": "missing, unknown or revoked admin token (customer tokens and API "
                           "keys are refused here).",
    "insufficient_scope": "a read token on a write route.",
    "insufficient_credits": "with `credits`, the balance; nothing is charged.",
    "job_not_found": "unknown job, or another user's.",
    "key_not_found": "unknown key, or another user's.",
    "last_active_key": "revoking the last active key needs `confirm=true`.",
    "too_many_keys": "the most active keys allowed; revoke one first.",
    "payload_too_large": "request body over `MAX_REQUEST_BYTES`, chunked ones included.",
    "input_too_large": "input bytes or pixels over the limits.",
    "unsupported_media_type": "the body's Content-Type is not one this route takes.",
    "invalid_image": "not decodable, truncated, HTML, empty.",
    "unknown_foreground": "no subject found.",
    "idempotency_key_mismatch": "an `Idempotency-Key` reused with another body.",
    "rate_limited": "over this user's requests per minute (`RATE_LIMIT_PER_MINUTE` unless an "
                    "operator set the user's own); never charged.",
    "concurrency_limited": "this user already has as many image requests in flight as they "
                           "may (`MAX_CONCURRENT_PER_USER` unless an operator set the user's "
                           "own), with `error.limit`; retry when one ends. Never charged, no "
                           "job made.",
    "processing_failed": "the worker failed unexpectedly (the credit is refunded).",
    "input_unreachable": "DNS, refused, timeout, non-2xx.",
    "input_url_forbidden": "loopback, private, link-local addresses; other schemes; "
                           "credentials in the URL.",
    "overloaded": "queue deeper than `QUEUE_MAX_DEPTH`, with `Retry-After`.",
    "service_unavailable": "PostgreSQL, Redis or the job queue does not answer.",
    "timeout": "not finished within `REQUEST_TIMEOUT_SECONDS`; `data.job_id` and "
               "`data.status_url` tell where to poll. The job goes on and is charged once, on "
               "success.",
}

PATH = "/api/v1/openapi.json"
routes = Routes("openapi", __name__, tag="meta")
bp = routes.bp


@routes.get(PATH, op="openapi",
            answer=Answer(OpenApiDocument, description="The OpenAPI 3.1 document."))
def openapi_json() -> Response:
    """This document"""
    return Response(_BODY, mimetype=JSON)


# In the order of the tags: auth, account, images, remove.bg, health, meta.
DOCUMENT: dict[str, Any] = build(CUSTOMER, [
    *auth.routes.contracts, *api.routes.contracts, *models_api.routes.contracts,
    *selfservice.routes.contracts,
    *removebg.routes.contracts, *health.routes.contracts, *observability.routes.contracts,
    *routes.contracts], HINTS)
_BODY = json.dumps(DOCUMENT, separators=(",", ":")).encode()
