"""Keyset pagination: opaque cursors and checked page sizes for every listing endpoint."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from shared.errors import InvalidParameter

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(position: dict[str, Any]) -> str:
    """An opaque cursor for the row after which the next page starts."""
    raw = json.dumps(position, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, fields: dict[str, type]) -> dict[str, Any] | None:
    """The position inside a cursor from encode_cursor (None for no cursor); 400 otherwise.

    fields: name -> int or str; ints are non-negative bigints, strings short and printable
    (a forged cursor must not reach PostgreSQL as something it cannot take).
    """
    if cursor is None or cursor == "":
        return None
    bad = InvalidParameter("cursor", "'cursor' is not a cursor this API returned.")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise bad from None
    if not isinstance(position, dict) or set(position) != set(fields):
        raise bad
    for name, kind in fields.items():
        value = position[name]
        if kind is int and not (type(value) is int and 0 <= value < 2**63):
            raise bad
        if kind is str and not (isinstance(value, str) and len(value) <= 64
                                and value.isprintable()):
            raise bad
    return position


def parse_limit(raw: str | None) -> int:
    """The page size: 1..MAX_LIMIT, DEFAULT_LIMIT when absent."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidParameter("limit", f"'limit' must be an integer from 1 to {MAX_LIMIT}.")
    return limit


def page(rows: list[dict[str, Any]], limit: int, position: Any) -> tuple[list[dict], str | None]:
    """Split a query's limit+1 rows into the page and the next cursor (None on the last page).

    position(row) gives the cursor fields of a row (e.g. {"id": row["id"]}).
    """
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(position(rows[-1]))
