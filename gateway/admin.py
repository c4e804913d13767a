"""Operator commands (`flask --app gateway.wsgi admin ...`), each printing one JSON object.

They call the same gateway.services.admin_ops functions as the admin HTTP API (/admin/v1),
audited as "cli:<OS user>".
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click
from flask.cli import AppGroup

from gateway.context import runtime
from gateway.services import reports
from gateway.services.admin_ops import Admin
from gateway.services.admin_tokens import SCOPES, AdminTokens
from gateway.services.audit import Actor
from shared.errors import ApiError, InvalidParameter, NotFound
from shared.runtime import Runtime

admin_cli = AppGroup("admin", help="Manage users, API keys, credits and admin tokens.")


def _admin() -> Admin:
    return Admin(runtime(), Actor.cli())


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
                if isinstance(err, NotFound) and "param" in err.details:
                    # An option that names nothing is an invalid option, as the CLI has
                    # always said (the HTTP API answers 404 for the same error).
                    err = InvalidParameter(err.details["param"], err.message)
                _emit(err.to_dict())
                sys.exit(1)

        return admin_cli.command(name)(run)

    return wrap


def create_user_with_key(rt: Runtime, email: str, credits: int) -> dict[str, Any]:
    """A user, a first key and an initial grant: what create-user (and `make run`'s demo) do."""
    return Admin(rt, Actor.cli()).create_user(email, credits)


@json_command("create-user")
@click.option("--email", required=True)
@click.option("--credits", type=int, default=0, show_default=True)
def create_user(email: str, credits: int) -> dict[str, Any]:
    """Create a user with a first API key (shown once) and optional credits."""
    return create_user_with_key(runtime(), email, credits)


@json_command("issue-key")
@click.option("--user", "user_id", type=int, required=True)
def issue_key(user_id: int) -> dict[str, Any]:
    """Issue another API key for a user (shown once)."""
    return _admin().issue_key(user_id)


@json_command("revoke-key")
@click.option("--prefix", required=True)
def revoke_key(prefix: str) -> dict[str, Any]:
    """Revoke a key by its public prefix; its tokens stop working at once."""
    return _admin().revoke_key(prefix)


@json_command("grant")
@click.option("--user", "user_id", type=int, required=True)
@click.option("--credits", type=int, required=True)
@click.option("--note", default=None)
def grant(user_id: int, credits: int, note: str | None) -> dict[str, Any]:
    """Grant credits (negative: a correction, never below zero)."""
    return _admin().grant(user_id, credits, note)


@json_command("show-user")
@click.option("--user", "user_id", type=int, required=True)
def show_user(user_id: int) -> dict[str, Any]:
    """Balance, limits, keys (by prefix) and recent jobs of a user."""
    return _admin().show_user(user_id)


class LimitValue(click.ParamType):
    """A limit on the command line: a whole number (0: no limit) or `default` (None)."""

    name = "N|default"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | None:
        if value is None or value == "default":
            return None
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a whole number nor 'default'", param, ctx)


@json_command("set-limits")
@click.option("--user", "user_id", type=int, required=True)
@click.option("--rate-limit", type=LimitValue(),
              help="Requests per minute; 0: no limit; 'default': RATE_LIMIT_PER_MINUTE.")
@click.option("--max-concurrent", type=LimitValue(),
              help="Image requests in flight at once; 0: no limit; 'default': "
                   "MAX_CONCURRENT_PER_USER.")
@click.pass_context
def set_limits(ctx: click.Context, user_id: int, rate_limit: int | None,
               max_concurrent: int | None) -> dict[str, Any]:
    """Set a user's own limits (an option not given stays as it is)."""
    given = {name for name in ("rate_limit", "max_concurrent")
             if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE}
    changes = {column: value for column, name, value in (
        ("rate_limit_per_minute", "rate_limit", rate_limit),
        ("max_concurrent", "max_concurrent", max_concurrent)) if name in given}
    return _admin().set_limits(user_id, changes)


@json_command("reconcile")
@click.option("--user", "user_id", type=int, required=True)
def reconcile(user_id: int) -> dict[str, Any]:
    """Reset a user's live balance in Redis from the PostgreSQL ledger."""
    return _admin().reconcile(user_id)


@json_command("list-users")
@click.option("--email", default=None, help="Part of the address.")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
@click.option("--cursor", default=None, help="next_cursor of the previous page.")
def list_users(email: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Users by id, a page at a time."""
    rows, next_cursor = _admin().list_users(limit, cursor, email)
    return {"data": rows, "next_cursor": next_cursor}


@json_command("disable-user")
@click.option("--user", "user_id", type=int, required=True)
@click.option("--enable", is_flag=True, help="Enable a disabled user again.")
def disable_user(user_id: int, enable: bool) -> dict[str, Any]:
    """Disable a user (every key and token fails at once), or --enable again."""
    return _admin().set_disabled(user_id, not enable)


@json_command("usage")
@click.option("--from", "start", default=None, help="ISO date/time, inclusive (30 days ago).")
@click.option("--to", "end", default=None, help="ISO date/time, exclusive (now).")
@click.option("--user", "user_id", type=int, default=None)
def usage(start: str | None, end: str | None, user_id: int | None) -> dict[str, Any]:
    """Per user and day: images succeeded, failed, credits charged, refunded."""
    span = reports.parse_range(start, end, reports.MAX_USAGE_DAYS)
    return reports.usage(runtime().db, span, user_id)


@json_command("audit")
@click.option("--target", default=None, help="e.g. user:12 or key:bgr_3f9c1a2b4d5e")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True)
def audit_log(target: str | None, limit: int) -> dict[str, Any]:
    """The newest audit entries."""
    rows, next_cursor = _admin().audit_entries(limit, None, target)
    return {"data": rows, "next_cursor": next_cursor}


@json_command("create-admin-token")
@click.option("--name", required=True, help="Who or what uses it (recorded in the audit).")
@click.option("--scope", type=click.Choice(SCOPES), required=True)
def create_admin_token(name: str, scope: str) -> dict[str, Any]:
    """An admin API token (shown once): read = GET only, write = everything."""
    return AdminTokens(runtime().db).create(name, scope, Actor.cli())


@json_command("list-admin-tokens")
@click.option("--prefix", default=None)
def list_admin_tokens(prefix: str | None) -> dict[str, Any]:
    """Admin tokens by prefix (never a secret)."""
    return {"data": AdminTokens(runtime().db).list(prefix)}


@json_command("revoke-admin-token")
@click.option("--prefix", required=True)
def revoke_admin_token(prefix: str) -> dict[str, Any]:
    """Revoke an admin token; requests with it fail at once."""
    return AdminTokens(runtime().db).revoke(prefix, Actor.cli())


@json_command("forget-balances")
def forget_balances() -> dict[str, Any]:
    """Drop every live balance from Redis (after restoring the database): each is rebuilt
    from the ledger on its next use."""
    return {"dropped": runtime().credits.forget_balances()}
