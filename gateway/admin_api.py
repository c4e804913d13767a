"""The admin HTTP API (/admin/v1/...): users, keys, credits, usage, ledger, jobs, audit.

Every view calls the same gateway.services.admin_ops functions as the CLI; writes need a
write-scoped admin token and are audited under that token's name.
"""

from __future__ import annotations

import itertools
from typing import Any

from flask import Blueprint, Response, request

from gateway.admin_auth import admin_required, current_actor
from gateway.context import runtime
from gateway.responses import json_body, ok, page, query_int, query_text
from gateway.services import pages, reports
from gateway.services.admin_ops import Admin
from shared.errors import InvalidParameter, KeyNotFound, UserNotFound

bp = Blueprint("admin_api", __name__, url_prefix="/admin/v1")
MAX_NOTE = 500


def _admin() -> Admin:
    return Admin(runtime(), current_actor())


def _user_id(raw: str) -> int:
    """A path's user id; anything that is not one is an unknown user (404)."""
    if not raw.isdigit() or not 0 < int(raw) <= 2**63 - 1:
        raise UserNotFound(f"no user {raw}", param="user")
    return int(raw)


def _note(body: dict[str, Any], required: bool) -> str | None:
    note = body.get("note")
    if note is None and not required:
        return None
    if not isinstance(note, str) or not note.strip() or len(note) > MAX_NOTE \
            or not note.isprintable():
        raise InvalidParameter("note", f"'note' must be 1 to {MAX_NOTE} printable characters "
                                       "saying why.")
    return note.strip()


def _credits(body: dict[str, Any], required: bool = True) -> int:
    value = body.get("credits", None if required else 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParameter("credits", "'credits' must be an integer.")
    return value


# -- users ----------------------------------------------------------------------------------------
@bp.get("/users")
@admin_required("read")
def list_users() -> Any:
    """Users by id, a page at a time; ?email= matches any part of the address."""
    rows, cursor = _admin().list_users(pages.parse_limit(request.args.get("limit")),
                                       request.args.get("cursor"), query_text("email"))
    return page(rows, cursor)


@bp.post("/users")
@admin_required("write")
def create_user() -> Any:
    """A user with a first API key (shown once) and optional initial credits."""
    body = json_body(("email", "credits", "note"))
    if not isinstance(body.get("email"), str):
        raise InvalidParameter("email", "'email' is required.")
    created = _admin().create_user(body["email"].strip(), _credits(body, required=False),
                                   _note(body, required=False))
    return ok(created, 201)


@bp.get("/users/<user_id>")
@admin_required("read")
def show_user(user_id: str) -> Any:
    """Balance, keys, recent jobs."""
    return ok(_admin().show_user(_user_id(user_id)))


@bp.post("/users/<user_id>/disable")
@admin_required("write")
def disable_user(user_id: str) -> Any:
    """Disable a user: every key and token fails at once (nothing is deleted)."""
    return ok(_admin().set_disabled(_user_id(user_id), True))


@bp.post("/users/<user_id>/enable")
@admin_required("write")
def enable_user(user_id: str) -> Any:
    """Enable a disabled user again."""
    return ok(_admin().set_disabled(_user_id(user_id), False))


@bp.post("/users/<user_id>/keys")
@admin_required("write")
def issue_key(user_id: str) -> Any:
    """Another API key for the user (shown once)."""
    return ok(_admin().issue_key(_user_id(user_id)), 201)


@bp.post("/users/<user_id>/credits")
@admin_required("write")
def grant(user_id: str) -> Any:
    """Grant (positive) or correct (negative) credits, with a note; never below zero."""
    body = json_body(("credits", "note"))
    uid = _user_id(user_id)
    return ok(_admin().grant(uid, _credits(body), _note(body, required=True)))


@bp.post("/users/<user_id>/reconcile")
@admin_required("write")
def reconcile(user_id: str) -> Any:
    """Reset the user's live balance in Redis from the ledger."""
    return ok(_admin().reconcile(_user_id(user_id)))


# -- keys -----------------------------------------------------------------------------------------
@bp.get("/keys")
@admin_required("read")
def list_keys() -> Any:
    """Keys by id; ?prefix= matches the start of a key's prefix, ?user_id= one user's."""
    rows, cursor = _admin().list_keys(pages.parse_limit(request.args.get("limit")),
                                      request.args.get("cursor"),
                                      query_text("prefix", 64), query_int("user_id"))
    return page(rows, cursor)


@bp.delete("/keys/<prefix>")
@admin_required("write")
def revoke_key(prefix: str) -> Any:
    """Revoke a key by prefix (idempotent); its tokens fail at once."""
    if len(prefix) > 64 or not prefix.isascii() or not prefix.isprintable():
        raise KeyNotFound(f"no key with prefix {prefix!r}", param="prefix")
    return ok(_admin().revoke_key(prefix))


# -- usage, ledger, jobs, audit -------------------------------------------------------------------
@bp.get("/usage")
@admin_required("read")
def usage() -> Any:
    """Per user and day: images succeeded and failed, credits charged and refunded."""
    span = reports.parse_range(request.args.get("from"), request.args.get("to"),
                               reports.MAX_USAGE_DAYS)
    report = reports.usage(runtime().db, span, query_int("user_id"))
    return ok(report.pop("data"), **report)


@bp.get("/ledger")
@admin_required("read")
def ledger() -> Response:
    """The ledger rows of a range, streamed as CSV or JSON (?format=csv|json)."""
    fmt = request.args.get("format", "json")
    if fmt not in ("csv", "json"):
        raise InvalidParameter("format", "'format' must be csv or json.")
    span = reports.parse_range(request.args.get("from"), request.args.get("to"))
    rows = reports.ledger_rows(runtime().db, span, query_int("user_id"))
    # Fetch the first row now: a database that is down answers 503 here, in the error
    # envelope, instead of cutting off a 200 that has already started.
    first = next(rows, None)
    stream = itertools.chain([first] if first is not None else [], rows)
    if fmt == "csv":
        name = f"ledger-{span.start:%Y%m%dT%H%M%SZ}-{span.end:%Y%m%dT%H%M%SZ}.csv"
        return Response(reports.as_csv(stream), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return Response(reports.as_json(stream, span), mimetype="application/json")


@bp.get("/jobs/<job_id>")
@admin_required("read")
def job(job_id: str) -> Any:
    """Any user's job: owner, key, parameters, outcome, timings, ledger rows."""
    return ok(_admin().job(job_id))


@bp.get("/audit")
@admin_required("read")
def audit_log() -> Any:
    """The audit trail, newest first; ?target=user:12, ?action=credits.grant."""
    rows, cursor = _admin().audit_entries(pages.parse_limit(request.args.get("limit")),
                                          request.args.get("cursor"),
                                          query_text("target"), query_text("action"))
    return page(rows, cursor)
