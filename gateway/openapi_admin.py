"""The admin API's own OpenAPI 3.1 document, served at GET /admin/v1/openapi.json (no auth).

Kept apart from the customer document: clients of the public API never see the admin routes.
Generated, like the customer one, from the routes' contracts (gateway/document.py).
tests/integration/test_admin_openapi.py checks it covers every /admin route and runs
schemathesis against a real gateway with a write token.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from gateway import admin_api
from gateway.contract import JSON, Answer, Routes
from gateway.document import build
from gateway.openapi import HINTS, LICENSE
from gateway.response_models import OpenApiDocument

ADMIN: dict[str, Any] = {
    "title": "bgremove admin API",
    "version": "1.0.0",
    "description": (
        "Operator endpoints. Authenticate with an admin token from `flask admin "
        "create-admin-token` (`Authorization: Bearer bga_...`): read tokens may GET, "
        "write tokens may do everything. Every write is in the audit trail. Errors use "
        "the customer API's envelope."),
    "license": LICENSE,
}

PATH = "/admin/v1/openapi.json"
routes = Routes("openapi_admin", __name__, tag="meta")
bp = routes.bp


@routes.get(PATH, op="adminOpenapi",
            answer=Answer(OpenApiDocument, description="The OpenAPI 3.1 document."))
def openapi_json() -> Response:
    """This document"""
    return Response(_BODY, mimetype=JSON)  # no auth: it holds no secret


DOCUMENT: dict[str, Any] = build(ADMIN, [*admin_api.routes.contracts, *routes.contracts], HINTS)
_BODY = json.dumps(DOCUMENT, separators=(",", ":")).encode()
