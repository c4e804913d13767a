"""Admin token authentication for /admin/v1/*: a bearer admin token, read or write scope.

Customer JWTs and API keys are refused here (they are not admin tokens), and admin tokens are
refused on the customer routes (they are not JWTs, and /api/token takes only API keys).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import g, request

from gateway.context import runtime
from gateway.services.admin_tokens import AdminToken, AdminTokens
from gateway.services.audit import Actor
from shared.errors import InsufficientScope, InvalidAdminToken

F = TypeVar("F", bound=Callable[..., Any])


def _verify() -> AdminToken:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidAdminToken()
    return AdminTokens(runtime().db).verify(token.strip())


def admin_required(scope: str) -> Callable[[F], F]:
    """Decorate an admin view: a valid admin token of `scope` (write includes read)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _verify()
            if scope == "write" and token.scope != "write":
                raise InsufficientScope()
            g.admin_token = token
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def current_actor() -> Actor:
    """The audit actor of this request: its admin token (and the request id)."""
    token: AdminToken = g.admin_token
    return Actor(f"admin:{token.name}", token.token_id, g.get("bgr_request_id"))
