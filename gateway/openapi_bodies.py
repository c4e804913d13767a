"""OpenAPI pieces generated from the request models, and the remove.bg API's paths.

Each request body is the model's own JSON Schema (pydantic), once for JSON and once for form
bodies, where the upload fields become binary file parts. gateway/openapi.py assembles them
into the one document.
"""

from __future__ import annotations

import copy
from typing import Any

from pydantic import BaseModel

from gateway.openapi_base import JSON, ref
from gateway.schemas import RemoveBackgroundRequest, RemoveBgRequest, TokenRequest

MULTIPART = "multipart/form-data"
FORM = "application/x-www-form-urlencoded"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "application/zip")
BINARY = {"type": "string", "format": "binary"}


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    if schema.pop("$defs", None):
        raise ValueError("nested request models need their $defs in components")
    return schema


def _with_files(schema: dict[str, Any], files: dict[str, str]) -> dict[str, Any]:
    """The schema of a multipart body: the named fields (also) as binary file parts."""
    out = copy.deepcopy(schema)
    out["title"] = f"{schema['title']}Multipart"
    for name, description in files.items():
        field = {**BINARY, "description": description}
        if name in out["properties"]:
            field = {"anyOf": [out["properties"][name], BINARY], "description": description}
        out["properties"][name] = field
    return out


def request_schemas() -> dict[str, Any]:
    """components.schemas entries of every request body."""
    ours, theirs = _schema(RemoveBackgroundRequest), _schema(RemoveBgRequest)
    return {
        "TokenRequest": _schema(TokenRequest),
        "RemoveBackgroundRequest": ours,
        "RemoveBackgroundMultipart": _with_files(ours, {
            "input_image": "The image as a file part (or its URL as a plain field)."}),
        "RemoveBgRequest": theirs,
        "RemoveBgMultipart": _with_files(theirs, {
            "image_file": "The image file.", "bg_image_file": "A background photo."}),
    }


def _header(description: str, required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "string"}}


_RESULT_HEADERS = {
    "X-Credits-Charged": _header("Credits charged by this call: 1 per image, whatever the "
                                 "size; 0 for a replayed Idempotency-Key."),
    "X-Type": _header("The `type` asked for; `other` for auto (we do not classify)."),
    "X-Width": _header("Output width in pixels."),
    "X-Height": _header("Output height in pixels."),
    **{f"X-Foreground-{n}": _header(f"The subject's bounding box in the output: {n.lower()}.")
       for n in ("Top", "Left", "Width", "Height")},
}
_LIMIT_HEADERS = {
    "X-RateLimit-Limit": _header("Requests allowed per minute.", False),
    "X-RateLimit-Remaining": _header("Requests left in this window.", False),
    "X-RateLimit-Reset": _header("Unix time when the window ends.", False),
}
_STATUS_TEXT = {
    400: "Invalid parameters or input file unprocessable (no credits charged).",
    402: "Insufficient credits (no credits charged).",
    403: "Authentication failed: missing or invalid X-Api-Key (no credits charged).",
    405: "Another method on this path.",
    413: "The upload or the body is too large (no credits charged).",
    422: "An Idempotency-Key reused with another request.",
    429: "Rate limit exceeded (no credits charged).",
    500: "Processing failed (refunded).",
    503: "Overloaded or a dependency down (no credits charged).",
    504: "Not finished in time; the job goes on and is charged once, on success.",
}


def _error(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": _STATUS_TEXT[status],
        "content": {JSON: {"schema": ref("schemas", "RemoveBgError")}}}
    headers = dict(_LIMIT_HEADERS) if status not in (403, 405) else {}
    if status in (429, 503):
        headers["Retry-After"] = _header("Seconds to wait.", status == 429)
    if headers:
        response["headers"] = headers
    return response


API_KEY = [{"apiKey": []}]
API_KEY_SCHEME = {"type": "apiKey", "in": "header", "name": "X-Api-Key",
                  "description": "One of our API keys, as remove.bg's X-Api-Key."}

REMOVEBG_PATHS: dict[str, Any] = {
    "/v1.0/removebg": {"post": {
        "operationId": "removebg",
        "tags": ["remove.bg"],
        "summary": "remove.bg-compatible: remove the background of an image",
        "description": "The image itself, or with `Accept: application/json` its base64 and "
                       "the foreground box. One credit per image, whatever the size.",
        "security": API_KEY,
        "parameters": [{"name": "Idempotency-Key", "in": "header", "required": False,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 255,
                                   "pattern": "^[ -~]+$"}}],
        "requestBody": {"required": True, "content": {
            MULTIPART: {"schema": ref("schemas", "RemoveBgMultipart")},
            FORM: {"schema": ref("schemas", "RemoveBgRequest")},
            JSON: {"schema": ref("schemas", "RemoveBgRequest")}}},
        "responses": {
            "200": {"description": "The output image (or JSON with Accept: application/json).",
                    "headers": {**_RESULT_HEADERS, **_LIMIT_HEADERS},
                    "content": {**{t: {"schema": BINARY} for t in IMAGE_TYPES},
                                JSON: {"schema": ref("schemas", "RemoveBgResult")}}},
            **{str(s): _error(s) for s in (400, 402, 403, 405, 413, 422, 429, 500, 503, 504)},
        },
    }},
    "/v1.0/account": {"get": {
        "operationId": "removebgAccount",
        "tags": ["remove.bg"],
        "summary": "remove.bg-compatible: credits from our ledger",
        "security": API_KEY,
        "responses": {
            "200": {"description": "The balance (all of it pay-as-you-go credits).",
                    "headers": _LIMIT_HEADERS,
                    "content": {JSON: {"schema": ref("schemas", "RemoveBgAccount")}}},
            **{str(s): _error(s) for s in (403, 405, 429, 503)},
        },
    }},
}
