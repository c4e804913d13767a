"""JSON answers of the admin and self-service endpoints: ISO 8601 times, one success shape."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from flask import Response, jsonify, request

from shared.errors import InvalidParameter, UnsupportedMediaType


def plain(value: Any) -> Any:
    """value with datetimes and dates as ISO 8601 and UUIDs as strings, recursively.

    Flask would write datetimes as RFC 822 dates, which neither sorts nor parses well.
    """
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def ok(data: Any, status: int = 200, **extra: Any) -> Response:
    """{"success": true, "data": ..., **extra} with `status`."""
    response = jsonify({"success": True, "data": plain(data), **plain(extra)})
    response.status_code = status
    return response


def page(rows: list[dict[str, Any]], next_cursor: str | None) -> Response:
    """One page of a listing and the cursor of the next (null on the last page)."""
    return ok(rows, next_cursor=next_cursor)


def query_int(name: str, minimum: int = 1) -> int | None:
    """An optional integer query parameter (400 naming it when it is not one)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum or value > 2**63 - 1:
        raise InvalidParameter(name, f"'{name}' must be an integer of at least {minimum}.")
    return value


def query_text(name: str, max_length: int = 320) -> str | None:
    """An optional text query parameter; printable and bounded (PostgreSQL takes no NUL)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_length or not raw.isprintable():
        raise InvalidParameter(name, f"'{name}' must be at most {max_length} printable "
                                     "characters.")
    return raw


def query_flag(name: str) -> bool:
    """A boolean query parameter: true/1/yes, false/0/no or absent (400 for anything else)."""
    raw = request.args.get(name, "").strip().lower()
    if raw in ("", "false", "0", "no"):
        return False
    if raw in ("true", "1", "yes"):
        return True
    raise InvalidParameter(name, f"'{name}' must be true or false.")


def json_body(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The JSON object body, refusing unknown fields (400 naming the first)."""
    if not request.is_json:
        raise UnsupportedMediaType()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter("body", "The request body must be a JSON object.")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidParameter(unknown[0], f"Unknown parameter '{unknown[0]}'.")
    return body
