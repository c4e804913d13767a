"""An OpenAPI 3.1 document generated from route contracts (gateway/contract.py).

Operations, parameters, request bodies and success responses come from each route's models;
its error responses from the error classes it can answer (shared/errors.py: status and code),
grouped by status in the format of its API; security schemes from its guard. The words a
generator cannot know (titles, what an error code means) are the caller's `info` and `hints`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.context import removebg_status
from gateway.contract import JSON, MULTIPART, Answer, Contract
from gateway.removebg_models import RemoveBgError
from gateway.response_models import Error
from shared.errors import ApiError, ConcurrencyLimited, Overloaded, RateLimited

REF = "#/components/schemas/{model}"
BINARY = {"type": "string", "format": "binary"}
_LIMIT_TEXT = {"X-RateLimit-Limit": "Requests this user may make per minute (their own limit, "
                                    "else the deployment's).",
               "X-RateLimit-Remaining": "Requests left in the current one-minute window."}
# Our API counts the reset in seconds; remove.bg's (and so its wire) as a Unix time.
LIMIT_HEADERS = {
    "ours": {**{n: (t, {"type": "integer", "minimum": 0 if "Rem" in n else 1})
                for n, t in _LIMIT_TEXT.items()},
             "X-RateLimit-Reset": ("Seconds until the current window ends.",
                                   {"type": "integer", "minimum": 1})},
    "removebg": {**{n: (t, {"type": "string"}) for n, t in _LIMIT_TEXT.items()},
                 "X-RateLimit-Reset": ("Unix time when the window ends.", {"type": "string"})},
}
ERROR_MODEL = {"ours": Error, "removebg": RemoveBgError}


def build(info: Mapping[str, Any], contracts: Iterable[Contract],
          hints: Mapping[str, str]) -> dict[str, Any]:
    """The document of `contracts`."""
    contracts = list(contracts)
    refs, schemas = _schemas(contracts)
    paths: dict[str, Any] = {}
    for c in contracts:
        paths.setdefault(c.path, {})[c.method] = _operation(c, refs, hints)
    schemes = {c.guard.name: c.guard.scheme for c in contracts if c.guard.name}
    return {
        "openapi": "3.1.0", "info": dict(info), "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in dict.fromkeys(c.tag for c in contracts)],
        "paths": paths,
        "components": {"securitySchemes": schemes, "schemas": schemas},
    }


def _schemas(contracts: list[Contract]) -> tuple[dict[Any, str], dict[str, Any]]:
    """components.schemas of every body and answer model (and the models they nest), and the
    $ref of each (model, mode)."""
    wanted: dict[tuple[type[BaseModel], str], None] = {}
    for c in contracts:
        if c.body is not None:
            wanted[(c.body.model, "validation")] = None
        for answer in c.answers:
            if answer.model is not None:
                wanted[(answer.model, "serialization")] = None
        wanted[(ERROR_MODEL[c.wire], "serialization")] = None
    keys, top = models_json_schema(list(wanted), ref_template=REF)  # type: ignore[arg-type]
    schemas = dict(top.get("$defs", {}))
    refs = {key: value["$ref"] for key, value in keys.items()}
    for c in contracts:
        if c.body is not None and c.body.files:
            name = refs[(c.body.model, "validation")].rsplit("/", 1)[1]
            schemas[f"{name}Multipart"] = _with_files(schemas[name], c.body.files)
            refs[(c.body.model, "multipart")] = REF.format(model=f"{name}Multipart")
    return refs, schemas


def _with_files(schema: dict[str, Any], files: Mapping[str, str]) -> dict[str, Any]:
    """The schema of a multipart body: the named fields (also) as binary file parts."""
    out = copy.deepcopy(schema)
    out["title"] = f"{schema['title']}Multipart"
    for name, description in files.items():
        part: dict[str, Any] = {**BINARY, "description": description}
        if name in out["properties"]:
            part = {"anyOf": [out["properties"][name], BINARY], "description": description}
        out["properties"][name] = part
    return out


def _operation(c: Contract, refs: dict[Any, str], hints: Mapping[str, str]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": c.op, "tags": [c.tag], "summary": c.summary,
        **({"description": c.description} if c.description else {}),
        "security": [{c.guard.name: []}] if c.guard.name else [],
        "parameters": [*_path_params(c), *_params(c.query, "query"),
                       *_params(c.headers, "header")],
    }
    if not operation["parameters"]:
        del operation["parameters"]
    if c.body is not None:
        content = {}
        for media in c.body.media:
            key = (c.body.model, "multipart" if media == MULTIPART and c.body.files
                   else "validation")
            content[media] = {"schema": {"$ref": refs[key]}}
        operation["requestBody"] = {"required": True, "content": content}
    operation["responses"] = {str(a.status): _answer(c, a, refs) for a in c.answers}
    operation["responses"].update(_errors(c, refs, hints))
    return operation


def _path_params(c: Contract) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in c.path.split("/") if part.startswith("{")]
    return [{"name": n, "in": "path", "required": True, "schema": {"type": "string"},
             **({"description": c.params[n]} if n in c.params else {})} for n in names]


def _params(model: type[BaseModel] | None, where: str) -> list[dict[str, Any]]:
    """One parameter per field of a query or header model (by alias)."""
    if model is None:
        return []
    schema = model.model_json_schema(mode="validation")
    out = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in _not_null(prop).items() if k not in ("title", "default")}
        description = prop.pop("description", None)
        out.append({"name": name, "in": where, "required": name in schema.get("required", ()),
                    **({"description": description} if description else {}), "schema": prop})
    return out


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A parameter's schema without the `null` of an optional field (a query has no null)."""
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if "anyOf" not in prop or len(options) != 1:
        return prop
    return {**{k: v for k, v in prop.items() if k != "anyOf"}, **options[0]}


def _answer(c: Contract, a: Answer, refs: dict[Any, str]) -> dict[str, Any]:
    content: dict[str, Any] = {m: {"schema": {"type": "string"} if m.startswith("text/")
                                   else BINARY} for m in a.media}
    if a.model is not None:
        content[JSON] = {"schema": {"$ref": refs[(a.model, "serialization")]}}
    text = a.description or (a.model.__doc__ if a.model else None) or "Success."
    response: dict[str, Any] = {"description": " ".join(text.split()), "content": content}
    headers = _limit_headers(c.wire, False) if c.rate_limited else {}
    if a.headers is not None:
        schema = a.headers.model_json_schema(mode="serialization")
        for name, prop in schema["properties"].items():
            headers[name] = {"description": prop.pop("description", ""),
                             "required": name in schema.get("required", ()),
                             "schema": {k: v for k, v in prop.items() if k != "title"}}
    if headers:
        response["headers"] = headers
    return response


def _limit_headers(wire: str, required: bool) -> dict[str, Any]:
    """X-RateLimit-*: on every answer of a rate-limited route once its guard let the request
    through, while the limit is on and Redis answers (the limiter fails open); always on 429."""
    return {name: {"description": text, "required": required, "schema": schema}
            for name, (text, schema) in LIMIT_HEADERS[wire].items()}


def _errors(c: Contract, refs: dict[Any, str], hints: Mapping[str, str]) -> dict[str, Any]:
    """One response per error status the route can answer, naming the codes it carries."""
    by_status: dict[int, list[type[ApiError]]] = {}
    for err in c.refusals:
        status = removebg_status(err) if c.wire == "removebg" else err.status
        by_status.setdefault(status, []).append(err)
    model_ref = {"$ref": refs[(ERROR_MODEL[c.wire], "serialization")]}
    out = {}
    for status, errors in sorted(by_status.items()):
        codes = list(dict.fromkeys(e.code for e in errors))
        schema = model_ref if c.wire == "removebg" else {
            "allOf": [model_ref],
            "properties": {"error": {"properties": {"code": {"enum": codes}}}}}
        headers: dict[str, Any] = {}
        # Only what the view (or the limiter) answers carries the counts: the guard's refusals
        # and Flask's own (routing, body size) come before the limiter.
        # A user without a rate limit gets none on a 429 for their in-flight limit.
        if c.rate_limited and any(e in c.errors or e is RateLimited for e in errors):
            headers.update(_limit_headers(c.wire, status == 429
                                          and ConcurrencyLimited not in errors))
        if RateLimited in errors or Overloaded in errors:
            headers["Retry-After"] = {
                "description": "Seconds to wait before retrying.",
                "required": RateLimited in errors,
                "schema": {"type": "integer", "minimum": 1}}
        text = " ".join(f"`{code}`: {hints.get(code) or _doc(errors, code)}" for code in codes)
        out[str(status)] = {"description": text, "content": {JSON: {"schema": schema}},
                            **({"headers": headers} if headers else {})}
    return out


def _doc(errors: list[type[ApiError]], code: str) -> str:
    """An error class's default message (its docstring), for a code without a hint."""
    return next((e.__doc__ or "").strip() for e in errors if e.code == code)
