"""The admin HTTP API (/admin/v1/...): users, keys, credits, usage, ledger, jobs, audit.

Every view calls the same gateway.services.admin_ops functions as the CLI; writes need a
write-scoped admin token and are audited under that token's name. Its document is its own
(gateway/openapi_admin.py): clients of the public API never see these routes.
"""

from __future__ import annotations

import itertools

from flask import Response

from gateway.admin_auth import current_actor
from gateway.admin_models import (
    AuditPage,
    Balance,
    Job,
    KeyPage,
    Ledger,
    Limits,
    NewKey,
    NewUser,
    Reconciled,
    RevokedKey,
    Usage,
    UserDetail,
    UserPage,
    UserState,
)
from gateway.context import runtime
from gateway.contract import Answer, Body, Routes
from gateway.guards import ADMIN_READ, ADMIN_WRITE
from gateway.queries import AuditQuery, KeysQuery, LedgerQuery, UsageQuery, UsersQuery
from gateway.schemas import CreateUserRequest, GrantRequest, LimitsRequest
from gateway.services import reports
from gateway.services.admin_ops import Admin
from shared.errors import (
    InvalidParameter,
    JobNotFound,
    KeyNotFound,
    PayloadTooLarge,
    TooManyKeys,
    UnsupportedMediaType,
    UserNotFound,
)

routes = Routes("admin_api", __name__, "/admin/v1", tag="admin", guard=ADMIN_READ)
bp = routes.bp
USER_ID = {"user_id": "The user's id; anything else is 404 `user_not_found`."}
WRITE = {"guard": ADMIN_WRITE, "params": USER_ID, "errors": [UserNotFound]}


def _admin() -> Admin:
    return Admin(runtime(), current_actor())


def _user_id(raw: str) -> int:
    """A path's user id; anything that is not one is an unknown user (404)."""
    if not raw.isdigit() or not 0 < int(raw) <= 2**63 - 1:
        raise UserNotFound(f"no user {raw}", param="user")
    return int(raw)


# -- users ----------------------------------------------------------------------------------------
@routes.get("/users", query=UsersQuery, answer=UserPage, errors=[InvalidParameter])
def list_users(query: UsersQuery) -> UserPage:
    """Users by id, a page at a time"""
    found, cursor = _admin().list_users(query.limit, query.cursor, query.email)
    return UserPage(data=found, next_cursor=cursor)


@routes.post("/users", guard=ADMIN_WRITE, body=Body(CreateUserRequest),
             answer=Answer(NewUser, status=201), errors=[InvalidParameter, UnsupportedMediaType])
def create_user(body: CreateUserRequest) -> NewUser:
    """A user with a first API key (shown once)"""
    return NewUser(data=_admin().create_user(body.email, body.credits, body.note))


@routes.get("/users/<user_id>", params=USER_ID, answer=UserDetail, errors=[UserNotFound])
def show_user(user_id: str) -> UserDetail:
    """Balance, keys and recent jobs"""
    return UserDetail(data=_admin().show_user(_user_id(user_id)))


@routes.post("/users/<user_id>/disable", answer=UserState, **WRITE)
def disable_user(user_id: str) -> UserState:
    """Disable: every key and token fails at once"""
    return UserState(data=_admin().set_disabled(_user_id(user_id), True))


@routes.post("/users/<user_id>/enable", answer=UserState, **WRITE)
def enable_user(user_id: str) -> UserState:
    """Enable a disabled user"""
    return UserState(data=_admin().set_disabled(_user_id(user_id), False))


@routes.post("/users/<user_id>/keys", answer=Answer(NewKey, status=201),
             **{**WRITE, "errors": [UserNotFound, TooManyKeys]})
def issue_key(user_id: str) -> NewKey:
    """Another API key for the user (shown once)"""
    return NewKey(data=_admin().issue_key(_user_id(user_id)))


@routes.post("/users/<user_id>/credits", body=Body(GrantRequest), answer=Balance, op="grantCredits",
             **{**WRITE, "errors": [InvalidParameter, UserNotFound, UnsupportedMediaType]})
def grant(user_id: str, body: GrantRequest) -> Balance:
    """Grant or correct credits with a note; never below zero"""
    return Balance(data=_admin().grant(_user_id(user_id), body.credits, body.note))


@routes.patch("/users/<user_id>/limits", body=Body(LimitsRequest), answer=Limits,
               op="setLimits",
               **{**WRITE, "errors": [InvalidParameter, UserNotFound, UnsupportedMediaType]})
def set_limits(user_id: str, body: LimitsRequest) -> Limits:
    """Set the user's rate limit and in-flight limit; null: back to the default
    A limit the body does not name stays as it is; 0 is no limit. Applies from the user's
    next request."""
    changes = body.model_dump(exclude_unset=True)
    return Limits(data=_admin().set_limits(_user_id(user_id), changes))


@routes.post("/users/<user_id>/reconcile", answer=Reconciled, **WRITE)
def reconcile(user_id: str) -> Reconciled:
    """Reset the live balance in Redis from the ledger"""
    return Reconciled(data=_admin().reconcile(_user_id(user_id)))


# -- keys -----------------------------------------------------------------------------------------
@routes.get("/keys", query=KeysQuery, answer=KeyPage, errors=[InvalidParameter])
def list_keys(query: KeysQuery) -> KeyPage:
    """API keys by id; filter by prefix or user"""
    found, cursor = _admin().list_keys(query.limit, query.cursor, query.prefix, query.user_id)
    return KeyPage(data=found, next_cursor=cursor)


# A DELETE may carry a body too: over the limit it is refused unread.
@routes.delete("/keys/<prefix>", guard=ADMIN_WRITE, answer=RevokedKey,
               errors=[KeyNotFound, PayloadTooLarge])
def revoke_key(prefix: str) -> RevokedKey:
    """Revoke a key (idempotent); its tokens fail at once"""
    if len(prefix) > 64 or not prefix.isascii() or not prefix.isprintable():
        raise KeyNotFound(f"no key with prefix {prefix!r}", param="prefix")
    return RevokedKey(data=_admin().revoke_key(prefix))


# -- usage, ledger, jobs, audit -------------------------------------------------------------------
@routes.get("/usage", query=UsageQuery, answer=Usage, errors=[InvalidParameter])
def usage(query: UsageQuery) -> Usage:
    """Per user and UTC day: images succeeded, failed, credits charged, refunded"""
    span = reports.parse_range(query.start, query.end, reports.MAX_USAGE_DAYS)
    report = reports.usage(runtime().db, span, query.user_id)
    return Usage(data=report["data"], start=span.start, end=span.end, totals=report["totals"])


@routes.get("/ledger", query=LedgerQuery, op="exportLedger", errors=[InvalidParameter],
            answer=Answer(Ledger, media=("text/csv",)))
def ledger(query: LedgerQuery) -> Response:
    """Ledger rows of a range, oldest first, streamed"""
    span = reports.parse_range(query.start, query.end)
    rows = reports.ledger_rows(runtime().db, span, query.user_id)
    # Fetch the first row now: a database that is down answers 503 here, in the error
    # envelope, instead of cutting off a 200 that has already started.
    first = next(rows, None)
    stream = itertools.chain([first] if first is not None else [], rows)
    if query.format == "csv":
        name = f"ledger-{span.start:%Y%m%dT%H%M%SZ}-{span.end:%Y%m%dT%H%M%SZ}.csv"
        return Response(reports.as_csv(stream), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return Response(reports.as_json(stream, span), mimetype="application/json")


@routes.get("/jobs/<job_id>", answer=Job, errors=[JobNotFound], op="getJob")
def job(job_id: str) -> Job:
    """Any user's job, with owner, key and ledger rows"""
    return Job(data=_admin().job(job_id))


@routes.get("/audit", query=AuditQuery, answer=AuditPage, errors=[InvalidParameter], op="audit")
def audit_log(query: AuditQuery) -> AuditPage:
    """The audit trail, newest first"""
    found, cursor = _admin().audit_entries(query.limit, query.cursor, query.target,
                                           query.action)
    return AuditPage(data=found, next_cursor=cursor)
