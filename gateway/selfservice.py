"""The customer's own account (/api/v1/..., their JWT): jobs, usage by day, API keys."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, request
from flask_jwt_extended import get_jwt, jwt_required

from gateway.auth import current_user_id
from gateway.context import runtime
from gateway.ratelimit import rate_limited
from gateway.responses import ok, page, query_flag, query_text
from gateway.services import customer, pages, reports
from gateway.services.audit import Actor
from shared.errors import KeyNotFound, from_code

bp = Blueprint("selfservice", __name__, url_prefix="/api/v1")


def _actor() -> Actor:
    return Actor.customer(current_user_id(), g.get("bgr_request_id"))


def _job_summary(row: dict[str, Any]) -> dict[str, Any]:
    params = row["params"] or {}
    item: dict[str, Any] = {
        "job_id": str(row["id"]), "status": row["status"], "created_at": row["created_at"],
        "finished_at": row["finished_at"], "input_image": params.get("input_image"),
        "output_format": params.get("output_format"),
        "credits_charged": row["credits_charged"]}
    if row["status"] == "succeeded" and row["output_key"]:
        item["output_image"] = runtime().storage.url(row["output_key"])
    elif row["status"] == "failed":
        err = from_code(row["error_code"] or "processing_failed", row["error_message"] or None)
        item["error"] = {"code": err.code, "message": err.message, "status": err.status}
    return item


@bp.get("/jobs")
@jwt_required()
@rate_limited
def list_jobs() -> Any:
    """The caller's jobs, newest first; ?status=, ?limit=, ?cursor= (from next_cursor)."""
    rows, cursor = customer.list_jobs(runtime().db, current_user_id(),
                                      pages.parse_limit(request.args.get("limit")),
                                      request.args.get("cursor"), query_text("status", 20))
    return page([_job_summary(r) for r in rows], cursor)


@bp.get("/user/usage")
@jwt_required()
@rate_limited
def usage() -> Any:
    """Per UTC day: images succeeded and failed, credits charged and refunded."""
    span = reports.parse_range(request.args.get("from"), request.args.get("to"),
                               reports.MAX_USAGE_DAYS)
    report = reports.usage(runtime().db, span, current_user_id())
    days = [{k: v for k, v in day.items() if k != "user_id"} for day in report.pop("data")]
    return ok(days, **report)


@bp.get("/user/keys")
@jwt_required()
@rate_limited
def list_keys() -> Any:
    """The caller's keys by prefix; `current` marks the key of this token."""
    kid = int(get_jwt()["kid"])
    rows = customer.list_keys(runtime().db, current_user_id())
    return ok([{"key_prefix": r["prefix"], "created_at": r["created_at"],
                "last_used_at": r["last_used_at"], "revoked_at": r["revoked_at"],
                "current": r["id"] == kid} for r in rows])


@bp.post("/user/keys")
@jwt_required()
@rate_limited
def create_key() -> Any:
    """A new key for the caller, shown once (the body, if any, is ignored)."""
    return ok(customer.issue_key(runtime().db, current_user_id(), _actor()), 201)


@bp.delete("/user/keys/<prefix>")
@jwt_required()
@rate_limited
def revoke_key(prefix: str) -> Any:
    """Revoke one of the caller's keys (its tokens fail at once); the last needs ?confirm=true."""
    if len(prefix) > 64 or not prefix.isascii() or not prefix.isprintable():
        raise KeyNotFound(f"You have no key with prefix {prefix!r}.", param="prefix")
    return ok(customer.revoke_key(runtime().db, current_user_id(), prefix, _actor(),
                                  confirm=query_flag("confirm")))
