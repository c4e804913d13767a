"""Who is calling, and who may call a route.

A guard is a credential check, its OpenAPI security scheme and the errors it answers when it
refuses. A route names its guard once, in its declaration (gateway/contract.py): the check runs
before the view and the document lists the scheme and the refusals. current_user_id() and
current_key_id() tell the views (and the rate limiter) whose request it is, current_limits()
what that user may do (their own limits, read with the key or token at no extra cost).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import g, request
from flask_jwt_extended import get_jwt, jwt_required

from gateway.admin_auth import admin_required
from gateway.context import runtime
from gateway.services import limits
from gateway.services.accounts import Accounts
from shared.errors import (
    ApiError,
    DependencyDown,
    InsufficientScope,
    InvalidAdminToken,
    InvalidApiKey,
    InvalidToken,
    TokenExpired,
    Unauthorized,
)

F = TypeVar("F", bound=Callable[..., Any])


def accounts() -> Accounts:
    """Accounts over the current app's database."""
    return Accounts(runtime().db)


def current_user_id() -> int:
    """The user of this request: of its X-Api-Key (remove.bg API), else of its verified token."""
    if g.get("api_key_user") is not None:
        return int(g.api_key_user)
    return int(get_jwt()["sub"])


def current_key_id() -> int:
    """The API key this request authenticated with (X-Api-Key, or the token's `kid` claim)."""
    if g.get("api_key_id") is not None:
        return int(g.api_key_id)
    return int(get_jwt()["kid"])


def remember_limits(user_id: int, row: dict[str, Any]) -> None:
    """Keep the limits of this request's user from the row its credential check read."""
    g.user_limits = (user_id, limits.effective(runtime().settings, row))


def current_limits(user_id: int | None = None) -> limits.UserLimits:
    """The limits of this request's user (or of user_id): those its credential check read,
    else (a path that did not keep them) read now."""
    user_id = current_user_id() if user_id is None else user_id
    kept = g.get("user_limits")
    if kept is None or kept[0] != user_id:
        row = runtime().db.one("get_user", user_id=user_id) or {}
        remember_limits(user_id, row)
    return g.user_limits[1]


@dataclass(frozen=True)
class Guard:
    """A credential check. `scheme` is its OpenAPI security scheme (named `name`); `errors`
    are what it refuses with, 503 included where the check reads the database."""

    check: Callable[[Any], Any] | None
    name: str | None = None
    scheme: dict[str, str] = field(default_factory=dict)
    errors: tuple[type[ApiError], ...] = ()


def api_key_required(view: F) -> F:
    """Authenticate by the X-Api-Key header (one of our API keys; no JWT step)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("X-Api-Key", "").strip()
        if not key:
            raise Unauthorized("Send your API key in the X-Api-Key header.")
        owner = accounts().key_owner(key)
        g.api_key_user, g.api_key_id = int(owner["user_id"]), int(owner["id"])
        remember_limits(g.api_key_user, owner)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


PUBLIC = Guard(None)
# The token check reads PostgreSQL (revoked keys, disabled users): 503 when it does not answer.
BEARER = Guard(jwt_required(), "bearerAuth", {
    "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    "description": "A token from POST /api/token (or /api/refresh)."},
    (Unauthorized, InvalidToken, TokenExpired, DependencyDown))
API_KEY = Guard(api_key_required, "apiKey", {
    "type": "apiKey", "in": "header", "name": "X-Api-Key",
    "description": "One of our API keys, as remove.bg's X-Api-Key."},
    (Unauthorized, InvalidApiKey, DependencyDown))
_ADMIN = {"type": "http", "scheme": "bearer", "bearerFormat": "bga_<prefix>.<secret>",
          "description": "An admin token (not a customer token)."}
ADMIN_READ = Guard(admin_required("read"), "adminToken", _ADMIN,
                   (InvalidAdminToken, DependencyDown))
ADMIN_WRITE = Guard(admin_required("write"), "adminToken", _ADMIN,
                    (InvalidAdminToken, InsufficientScope, DependencyDown))
