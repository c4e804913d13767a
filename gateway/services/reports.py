"""Usage by day and the ledger export: read-only reports over a half-open time range."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.db import Database, q
from shared.errors import InvalidParameter

DEFAULT_DAYS = 30
MAX_USAGE_DAYS = 366
LEDGER_FIELDS = ("id", "created_at", "user_id", "email", "kind", "amount", "job_id", "note")
USAGE_FIELDS = ("images_succeeded", "images_failed", "credits_charged", "credits_refunded")


@dataclass(frozen=True)
class Range:
    """[start, end): `from` inclusive, `to` exclusive, both UTC."""

    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def _parse_time(name: str, raw: str) -> datetime:
    # A '+' of an offset arrives as ' ' when the client did not URL-encode it.
    text = raw.strip().replace(" ", "+")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameter(name, f"'{name}' must be an ISO 8601 date or date-time, "
                                     "e.g. 2026-01-31 or 2026-01-31T12:00:00Z.") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # naive = UTC, the reports' time zone
    return value.astimezone(UTC)


def parse_range(raw_from: str | None, raw_to: str | None, max_days: int | None = None,
                now: datetime | None = None) -> Range:
    """The range of ?from=&to= (defaults: the last 30 days up to now); 400 if backwards/too long."""
    end = _parse_time("to", raw_to) if raw_to else (now or datetime.now(UTC))
    start = _parse_time("from", raw_from) if raw_from else end - timedelta(days=DEFAULT_DAYS)
    if start >= end:
        raise InvalidParameter("from", "'from' must be before 'to' (to is exclusive).")
    if max_days is not None and end - start > timedelta(days=max_days):
        raise InvalidParameter("from", f"The range may span at most {max_days} days.")
    return Range(start, end)


def usage(db: Database, span: Range, user_id: int | None = None) -> dict[str, Any]:
    """Per user and UTC day: images succeeded and failed, credits charged and refunded."""
    rows = db.all("usage_by_day", start=span.start, end=span.end, user_id=user_id)
    days = []
    totals = dict.fromkeys(USAGE_FIELDS, 0)
    for row in rows:
        day: date = row["day"]
        entry = {"date": day.isoformat(), "user_id": row["user_id"],
                 "images_succeeded": row["succeeded"], "images_failed": row["failed"],
                 "credits_charged": row["credits_charged"],
                 "credits_refunded": row["credits_refunded"]}
        for name in USAGE_FIELDS:
            totals[name] += int(entry[name])
        days.append(entry)
    return {**span.as_dict(), "data": days, "totals": totals}


def ledger_rows(db: Database, span: Range, user_id: int | None = None,
                ) -> Iterator[dict[str, Any]]:
    """Every ledger row of the range, oldest first, read through a server-side cursor: an
    export of millions of rows holds one batch in memory, never the whole result."""
    with db.connection() as conn, conn.transaction(), conn.cursor(name="ledger_export") as cur:
        cur.execute(q("ledger_export"), {"start": span.start, "end": span.end,
                                         "user_id": user_id})
        yield from cur


def _cell(value: Any) -> Any:
    # A spreadsheet runs a cell that starts with = + - @ as a formula: quote free text
    # (notes, emails) so an export opened in one cannot execute what a user typed.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def as_csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """The rows as CSV text, header first, one chunk per row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(LEDGER_FIELDS)
    for row in rows:
        writer.writerow([_cell(row[name]) if name in ("email", "note") else
                         (row[name].isoformat() if name == "created_at" else row[name])
                         for name in LEDGER_FIELDS])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime | date) else str(value)


def as_json(rows: Iterator[dict[str, Any]], span: Range) -> Iterator[str]:
    """The rows as one JSON document, {"success": true, "from", "to", "data": [...]}, in chunks."""
    head = json.dumps({"success": True, **span.as_dict()})[:-1]
    yield head + ', "data": ['
    for i, row in enumerate(rows):
        yield ("," if i else "") + json.dumps({name: row[name] for name in LEDGER_FIELDS},
                                              default=_iso)
    yield "]}"
