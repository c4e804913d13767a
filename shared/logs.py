"""JSON log lines with the job, user and request they belong to, and no secrets in them.

Each process calls `configure()` once (the Celery worker from its `setup_logging` signal; the
gateway through gunicorn's `logconfig_dict`, which names `JsonFormatter`). The ids come from
context variables: a gthread request thread and a prefork task each run in their own context,
so `bind()` in one never shows up on another's lines.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"

_job_id: ContextVar[str | None] = ContextVar("bgr_job_id", default=None)
_user_id: ContextVar[int | None] = ContextVar("bgr_user_id", default=None)
_request_id: ContextVar[str | None] = ContextVar("bgr_request_id", default=None)
_VARS: dict[str, ContextVar[Any]] = {"job_id": _job_id, "user_id": _user_id,
                                     "request_id": _request_id}


def bind(**ids: Any) -> None:
    """Set job_id / user_id / request_id for every later line of this thread or task."""
    for name, value in ids.items():
        _VARS[name].set(value)


def clear() -> None:
    """Forget every id (end of a request or task: the thread or process is reused)."""
    for var in _VARS.values():
        var.set(None)


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """bind() for the duration of a block, restoring the previous ids afterwards."""
    tokens = [(_VARS[name], _VARS[name].set(value)) for name, value in ids.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current() -> dict[str, Any]:
    """The ids bound now (None where unknown)."""
    return {name: var.get() for name, var in _VARS.items()}


# -- scrubbing --------------------------------------------------------------------------------
# Order matters: a presigned URL's whole query goes first, so none of its parameters survive;
# the Authorization value before the generic token patterns, which would leave "Bearer".
_B64URL = r"[A-Za-z0-9_-]"
_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    # The query string of a presigned URL (AWS SigV4/V2, GCS): it is a bearer credential.
    (re.compile(r"\?(?=[^\s\"'<>]*(?:X-Amz-|X-Goog-|AWSAccessKeyId=|Signature=))[^\s\"'<>]*",
                re.IGNORECASE), "?" + REDACTED),
    # Presigning parameters outside a URL (a dict of query parameters, a header dump).
    (re.compile(r"\bX-(?:Amz|Goog)-(?:Signature|Credential|Security-Token)\b"
                r"[\"']?\s*[=:]\s*[\"']?[^&\s\"'<>,}]*", re.IGNORECASE), REDACTED),
    # Any Authorization header or field, whatever its scheme (HTTP_AUTHORIZATION too).
    (re.compile(r"(authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,;}]+", re.IGNORECASE),
     r"\1" + REDACTED),
    (re.compile(r"\b(bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1 " + REDACTED),
    # JWTs: a JSON header always encodes to "eyJ"; or any three long base64url parts.
    (re.compile(rf"\beyJ{_B64URL}+\.{_B64URL}+\.{_B64URL}*"), REDACTED),
    (re.compile(rf"\b{_B64URL}{{16,}}\.{_B64URL}{{16,}}\.{_B64URL}{{16,}}"), REDACTED),
    # Our API keys, bgr_<hex prefix>.<secret>, and admin tokens, bga_...: the prefix is public
    # (listings, the audit trail), the secret not.
    (re.compile(r"\b(bg[ra]_[0-9a-f]{6,})\.[A-Za-z0-9_-]+"), r"\1." + REDACTED),
    # Passwords inside URLs (DATABASE_URL, REDIS_URL, a customer's input URL).
    (re.compile(r"(://[^/\s:@\"']*):[^@\s/\"']+@"), r"\1:" + REDACTED + "@"),
)


def scrub(text: str) -> str:
    """text without tokens, API key secrets, Authorization values or presigned queries."""
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


# Fields whose whole value is a credential, whatever it looks like (headers, config dumps).
_SECRET_KEY = re.compile(r"authorization|token|secret|password|passwd|api_?key|cookie",
                         re.IGNORECASE)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {str(k): REDACTED if _SECRET_KEY.search(str(k)) else _scrub_value(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(v) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))  # anything else as its text, which may hold a secret too


# -- the formatter ----------------------------------------------------------------------------
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName",
    # Celery repeats the message's arguments (task args included) in `extra={"data": ...}`.
    "data",
}
_CELERY_TASK_ID = re.compile(r"bgremove\.\w+\[([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                             r"[0-9a-f]{12})\]")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the bound ids, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._message(record),
        }
        for name, value in current().items():
            if value is not None:
                entry[name] = value
        if record.name.startswith("celery") and "job_id" not in entry:
            # Celery's own lines name the task id, which is our job id.
            found = _CELERY_TASK_ID.search(entry["message"])
            if found:
                entry["job_id"] = found.group(1)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry["http"] = _access_fields(record.args)
            given = record.args.get("{x-request-id}o")
            if "request_id" not in entry and given not in (None, "-"):
                entry["request_id"] = given  # the app's answer header, when nothing is bound
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value  # an explicit extra={"job_id": ...} wins over the context
        entry["pid"] = record.process
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ASCII only: a client's path may hold U+0085 or U+2028, which line splitters (log
        # shippers, Python's splitlines) take for line ends; escaped, a line stays one line.
        return json.dumps(_scrub_value(entry), ensure_ascii=True, default=str)

    @staticmethod
    def _message(record: logging.LogRecord) -> str:
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            # gunicorn's access format holds the raw request line, query string included:
            # only method, path (no query) and status go into the message.
            args = record.args
            return f"{args.get('m', '-')} {args.get('U', '-')} {args.get('s', '-')}"
        try:
            return record.getMessage()
        except Exception:  # a bad format string must not lose the line
            return f"{record.msg!s} {record.args!r}"


def _access_fields(atoms: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of gunicorn's access atoms worth keeping: never headers or the query string."""
    fields = {"method": atoms.get("m"), "path": atoms.get("U"), "status": atoms.get("s"),
              "bytes": atoms.get("B"), "remote": atoms.get("h"),
              "user_agent": atoms.get("a")}
    with suppress(ValueError):
        fields["duration_s"] = float(atoms.get("L", ""))
    return {k: v for k, v in fields.items() if v not in (None, "-")}


def configure(level: int | str = logging.INFO) -> None:
    """Send every logger's lines, as JSON, to stderr (replaces the root logger's handlers)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def gunicorn_logconfig(level: str = "INFO") -> dict[str, Any]:
    """gunicorn's `logconfig_dict`: the app's, gunicorn's and the access log's lines as JSON."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "shared.logs.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": level, "handlers": ["stderr"]},
        # No handlers of their own: they reach the root's JSON handler (gunicorn would add
        # plain-text ones).
        "loggers": {name: {"level": level, "handlers": [], "propagate": True}
                    for name in ("gunicorn.error", "gunicorn.access")},
    }
