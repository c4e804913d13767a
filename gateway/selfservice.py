"""The customer's own account (/api/v1/..., their JWT): jobs, usage by day, API keys."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_jwt_extended import get_jwt

from gateway.account_models import (
    ApiKey,
    ApiKeys,
    JobFailure,
    JobPage,
    JobSummary,
    NewApiKey,
    NewApiKeyData,
    RevokedKey,
    RevokedKeyData,
    Usage,
    UsageCounts,
    UsageDay,
    rows,
)
from gateway.context import runtime
from gateway.contract import Answer, Routes
from gateway.guards import BEARER, current_user_id
from gateway.queries import JobsQuery, RangeQuery, RevokeQuery
from gateway.services import customer, reports
from gateway.services.audit import Actor
from shared.errors import (
    DependencyDown,
    InvalidParameter,
    KeyNotFound,
    LastActiveKey,
    TooManyKeys,
    from_code,
)

routes = Routes("selfservice", __name__, "/api/v1", tag="account", guard=BEARER,
                rate_limited=True)
bp = routes.bp


def _actor() -> Actor:
    return Actor.customer(current_user_id(), g.get("bgr_request_id"))


def _job_summary(row: dict[str, Any]) -> JobSummary:
    params = row["params"] or {}
    item = JobSummary(job_id=str(row["id"]), status=row["status"], created_at=row["created_at"],
                      finished_at=row["finished_at"], input_image=params.get("input_image"),
                      output_format=params.get("output_format"),
                      credits_charged=row["credits_charged"])
    if row["status"] == "succeeded" and row["output_key"]:
        item.output_image = runtime().storage.url(row["output_key"])
    elif row["status"] == "failed":
        err = from_code(row["error_code"] or "processing_failed", row["error_message"] or None)
        item.error = JobFailure(code=err.code, message=err.message, status=err.status)
    return item


@routes.get("/jobs", query=JobsQuery, answer=JobPage, errors=[InvalidParameter, DependencyDown])
def list_jobs(query: JobsQuery) -> JobPage:
    """The caller's jobs, newest first, a page at a time"""
    found, cursor = customer.list_jobs(runtime().db, current_user_id(), query.limit,
                                       query.cursor, query.status)
    return JobPage(data=[_job_summary(r) for r in found], next_cursor=cursor)


@routes.get("/user/usage", query=RangeQuery, answer=Usage,
            errors=[InvalidParameter, DependencyDown], op="getUsage")
def usage(query: RangeQuery) -> Usage:
    """Per UTC day: images succeeded and failed, credits charged and refunded
    A failed image is never charged; `credits_refunded` counts charges given back after the
    fact. At most 366 days per request."""
    span = reports.parse_range(query.start, query.end, reports.MAX_USAGE_DAYS)
    report = reports.usage(runtime().db, span, current_user_id())
    return Usage(data=rows(UsageDay, report["data"]), start=span.start, end=span.end,
                 totals=UsageCounts(**report["totals"]))


@routes.get("/user/keys", answer=Answer(ApiKeys, description="The keys."),
            errors=[DependencyDown])
def list_keys() -> ApiKeys:
    """The caller's API keys (prefixes only)"""
    kid = int(get_jwt()["kid"])
    found = customer.list_keys(runtime().db, current_user_id())
    return ApiKeys(data=[ApiKey(key_prefix=r["prefix"], created_at=r["created_at"],
                                last_used_at=r["last_used_at"], revoked_at=r["revoked_at"],
                                current=r["id"] == kid) for r in found])


@routes.post("/user/keys", answer=Answer(NewApiKey, status=201, description="The new key."),
             errors=[TooManyKeys, DependencyDown])
def create_key() -> NewApiKey:
    """A new API key for the caller, shown once
    The request body, if any, is ignored. At most 25 active keys."""
    return NewApiKey(data=NewApiKeyData(**customer.issue_key(runtime().db, current_user_id(),
                                                             _actor())))


@routes.delete("/user/keys/<prefix>", query=RevokeQuery, answer=RevokedKey,
               params={"prefix": "The key's prefix; another user's key is 404."},
               errors=[InvalidParameter, KeyNotFound, LastActiveKey, DependencyDown])
def revoke_key(prefix: str, query: RevokeQuery) -> RevokedKey:
    """Revoke one of the caller's keys; its tokens fail at once
    The last active key is revoked only with `confirm=true` (else 409 `last_active_key`):
    without a key the account is locked out."""
    if len(prefix) > 64 or not prefix.isascii() or not prefix.isprintable():
        raise KeyNotFound(f"You have no key with prefix {prefix!r}.", param="prefix")
    return RevokedKey(data=RevokedKeyData(**customer.revoke_key(
        runtime().db, current_user_id(), prefix, _actor(), confirm=query.confirm)))
