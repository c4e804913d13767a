"""Operator commands (`flask --app gateway.wsgi admin ...`), each printing one JSON object."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup

from shared.accounts import Accounts
from shared.errors import ApiError, InvalidParameter
from shared.runtime import Runtime

admin_cli = AppGroup("admin", help="Manage users, API keys and credits.")


def _rt() -> Runtime:
    return current_app.extensions["bgr"]


def _emit(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, default=str))


def json_command(name: str) -> Callable:
    """A subcommand whose return value is printed as JSON; errors print JSON and exit 1."""

    def wrap(fn: Callable[..., dict[str, Any]]) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> None:
            try:
                _emit(fn(*args, **kwargs))
            except ApiError as err:
                _emit(err.to_dict())
                sys.exit(1)

        return admin_cli.command(name)(run)

    return wrap


def create_user_with_key(rt: Runtime, email: str, credits: int) -> dict[str, Any]:
    """A user, a first key and an initial grant: what create-user (and `make run`'s demo) do."""
    accounts = Accounts(rt.db)
    user_id = accounts.create_user(email)
    key = accounts.issue_key(user_id)
    if credits:
        rt.credits.grant(user_id, credits, note="initial grant")
    return {"user_id": user_id, "api_key": key.api_key, "key_prefix": key.key_prefix,
            "credits": rt.credits.balance(user_id)}


@json_command("create-user")
@click.option("--email", required=True)
@click.option("--credits", type=int, default=0, show_default=True)
def create_user(email: str, credits: int) -> dict[str, Any]:
    """Create a user with a first API key (shown once) and optional credits."""
    return create_user_with_key(_rt(), email, credits)


@json_command("issue-key")
@click.option("--user", "user_id", type=int, required=True)
def issue_key(user_id: int) -> dict[str, Any]:
    """Issue another API key for a user (shown once)."""
    key = Accounts(_rt().db).issue_key(user_id)
    return {"user_id": user_id, "api_key": key.api_key, "key_prefix": key.key_prefix}


@json_command("revoke-key")
@click.option("--prefix", required=True)
def revoke_key(prefix: str) -> dict[str, Any]:
    """Revoke a key by its public prefix; its tokens stop working at once."""
    return Accounts(_rt().db).revoke_key(prefix)


@json_command("grant")
@click.option("--user", "user_id", type=int, required=True)
@click.option("--credits", type=int, required=True)
@click.option("--note", default=None)
def grant(user_id: int, credits: int, note: str | None) -> dict[str, Any]:
    """Grant credits (negative: a correction, never below zero)."""
    rt = _rt()
    if not rt.db.one("get_user", user_id=user_id):
        raise InvalidParameter("user", f"no user {user_id}")
    return {"user_id": user_id, "credits": rt.credits.grant(user_id, credits, note)}


@json_command("show-user")
@click.option("--user", "user_id", type=int, required=True)
def show_user(user_id: int) -> dict[str, Any]:
    """Balance, keys (by prefix) and recent jobs of a user."""
    rt = _rt()
    user = rt.db.one("get_user", user_id=user_id)
    if user is None:
        raise InvalidParameter("user", f"no user {user_id}")
    return {
        "user_id": user_id, "email": user["email"], "credits": rt.credits.balance(user_id),
        "ledger_balance": rt.credits.ledger_balance(user_id),
        "keys": rt.db.all("list_api_keys", user_id=user_id),
        "recent_jobs": rt.db.all("recent_jobs", user_id=user_id, limit=20),
    }


@json_command("reconcile")
@click.option("--user", "user_id", type=int, required=True)
def reconcile(user_id: int) -> dict[str, Any]:
    """Reset a user's live balance in Redis from the PostgreSQL ledger."""
    before, after = _rt().credits.reconcile(user_id)
    return {"user_id": user_id, "redis_before": before, "credits": after}
