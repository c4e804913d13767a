"""Operator actions, shared by the admin CLI and the admin HTTP API; every write is audited.

Each write and its audit entry commit in one transaction. Listings page by keyset cursors
(gateway/services/pages.py). Nothing here knows about HTTP or click.
"""

from __future__ import annotations

import uuid
from typing import Any

import redis as redis_lib

from gateway.services import audit, concurrency, limits, pages
from gateway.services.accounts import Accounts
from gateway.services.audit import Actor
from shared.db import q
from shared.errors import InvalidParameter, JobNotFound, KeyNotFound, UserNotFound
from shared.runtime import Runtime


def _user_row(conn: Any, user_id: int) -> dict[str, Any]:
    row = conn.execute(q("get_user"), {"user_id": user_id}).fetchone()
    if row is None:
        raise UserNotFound(f"no user {user_id}", param="user")
    return row


# credit_ledger.amount is a 32-bit integer; a bigger number is a typo, not a grant.
MAX_GRANT = 1_000_000_000


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or abs(amount) > MAX_GRANT:
        raise InvalidParameter("credits", f"credits must be an integer within ±{MAX_GRANT}")


def _like(text: str) -> str:
    """A substring pattern for ILIKE that matches `text` literally (%, _ and \\ escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class Admin:
    """What an operator may do, as `actor` (recorded with every change)."""

    def __init__(self, rt: Runtime, actor: Actor) -> None:
        self.rt = rt
        self.actor = actor
        self.accounts = Accounts(rt.db)

    # -- users ---------------------------------------------------------------------------------
    def create_user(self, email: str, credits: int = 0, note: str | None = None,
                    ) -> dict[str, Any]:
        """A user, a first key (shown once) and an optional initial grant."""
        _check_amount(credits)
        if credits < 0:
            raise InvalidParameter("credits", "initial credits cannot be negative")
        with self.rt.db.connection() as conn, conn.transaction():
            user_id = self.accounts.create_user(email, conn)
            key = self.accounts.issue_key(user_id, conn)
            audit.record(conn, self.actor, "user.create", f"user:{user_id}", None,
                         {"email": email, "key_prefix": key.key_prefix})
        if credits:
            self.rt.credits.grant(user_id, credits, note or "initial grant",
                                  audit=self._grant_audit(user_id, credits, note))
        return {"user_id": user_id, "api_key": key.api_key, "key_prefix": key.key_prefix,
                "credits": self.rt.credits.balance(user_id)}

    def list_users(self, limit: int, cursor: str | None = None,
                   email: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Users by id, a page at a time; `email` matches any part of the address."""
        position = pages.decode_cursor(cursor, {"id": int})
        rows = self.rt.db.all("user_list", limit=limit + 1,
                              after_id=position and position["id"],
                              email=_like(email) if email else None)
        return pages.page(rows, limit, lambda r: {"id": r["id"]})

    def show_user(self, user_id: int) -> dict[str, Any]:
        """Balance, limits, keys (by prefix) and recent jobs of a user."""
        user = self.rt.db.one("get_user", user_id=user_id)
        if user is None:
            raise UserNotFound(f"no user {user_id}", param="user")
        return {
            "user_id": user_id, "email": user["email"], "created_at": user["created_at"],
            "disabled_at": user["disabled_at"], "credits": self.rt.credits.balance(user_id),
            "ledger_balance": self.rt.credits.ledger_balance(user_id),
            "limits": limits.describe(self.rt.settings, user),
            "in_flight": self._in_flight(user_id),
            "keys": self.rt.db.all("list_api_keys", user_id=user_id),
            "recent_jobs": self.rt.db.all("recent_jobs", user_id=user_id, limit=20),
        }

    def _in_flight(self, user_id: int) -> int | None:
        """The user's image requests in flight now (None: Redis does not answer)."""
        try:
            return concurrency.in_flight(self.rt.redis, user_id)
        except redis_lib.RedisError:
            return None

    def set_limits(self, user_id: int, changes: dict[str, int | None]) -> dict[str, Any]:
        """Set a user's own limits (None: back to the default; a limit not named is kept).
        Applies from the user's next request: the gateway reads them with every key check."""
        limits.check(changes)
        with self.rt.db.connection() as conn, conn.transaction():
            before = conn.execute(q("user_limits_lock"), {"user_id": user_id}).fetchone()
            if before is None:
                raise UserNotFound(f"no user {user_id}", param="user")
            after = conn.execute(q("user_set_limits"), {
                "user_id": user_id,
                "set_rate": "rate_limit_per_minute" in changes,
                "rate_limit_per_minute": changes.get("rate_limit_per_minute"),
                "set_concurrent": "max_concurrent" in changes,
                "max_concurrent": changes.get("max_concurrent")}).fetchone()
            audit.record(conn, self.actor, "user.limits", f"user:{user_id}",
                         limits.overrides(before), limits.overrides(after))
        return {"user_id": user_id, "limits": limits.describe(self.rt.settings, after)}

    def set_disabled(self, user_id: int, disabled: bool) -> dict[str, Any]:
        """Disable (every key and token of the user fails at once) or enable again."""
        with self.rt.db.connection() as conn, conn.transaction():
            before = _user_row(conn, user_id)
            after = conn.execute(q("user_set_disabled"),
                                 {"disabled": disabled, "user_id": user_id}).fetchone()
            audit.record(conn, self.actor, "user.disable" if disabled else "user.enable",
                         f"user:{user_id}", {"disabled_at": before["disabled_at"]},
                         {"disabled_at": after["disabled_at"]})
        return {"user_id": user_id, "email": after["email"], "created_at": after["created_at"],
                "disabled_at": after["disabled_at"]}

    # -- keys ----------------------------------------------------------------------------------
    def issue_key(self, user_id: int) -> dict[str, Any]:
        """Another key for a user (shown once)."""
        with self.rt.db.connection() as conn, conn.transaction():
            key = self.accounts.issue_key(user_id, conn)
            audit.record(conn, self.actor, "key.issue", f"key:{key.key_prefix}", None,
                         {"user_id": user_id, "key_prefix": key.key_prefix})
        return {"user_id": user_id, "api_key": key.api_key, "key_prefix": key.key_prefix}

    def list_keys(self, limit: int, cursor: str | None = None, prefix: str | None = None,
                  user_id: int | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """Keys by id (never a secret); `prefix` matches the start of the key prefix."""
        position = pages.decode_cursor(cursor, {"id": int})
        rows = self.rt.db.all("key_list", limit=limit + 1,
                              after_id=position and position["id"],
                              prefix=prefix or None, user_id=user_id)
        return pages.page(rows, limit, lambda r: {"id": r["id"]})

    def revoke_key(self, prefix: str) -> dict[str, Any]:
        """Revoke a key by prefix (idempotent); its tokens fail at once."""
        with self.rt.db.connection() as conn, conn.transaction():
            before = conn.execute(q("key_get"), {"prefix": prefix}).fetchone()
            if before is None:
                raise KeyNotFound(f"no key with prefix {prefix}", param="prefix")
            revoked = self.accounts.revoke_key(prefix, conn)
            audit.record(conn, self.actor, "key.revoke", f"key:{prefix}",
                         {"revoked_at": before["revoked_at"]},
                         {"revoked_at": revoked["revoked_at"], "user_id": before["user_id"]})
        return revoked

    # -- credits -------------------------------------------------------------------------------
    def _grant_audit(self, user_id: int, amount: int, note: str | None) -> Any:
        def write(conn: Any, before: int, after: int) -> None:
            audit.record(conn, self.actor, "credits.grant" if amount > 0 else "credits.correct",
                         f"user:{user_id}", {"balance": before},
                         {"balance": after, "amount": amount, "note": note})

        return write

    def grant(self, user_id: int, amount: int, note: str | None = None) -> dict[str, Any]:
        """Grant credits, or (negative) correct them away; never below zero."""
        _check_amount(amount)
        if not self.rt.db.one("get_user", user_id=user_id):
            raise UserNotFound(f"no user {user_id}", param="user")
        after = self.rt.credits.grant(user_id, amount, note,
                                      audit=self._grant_audit(user_id, amount, note))
        return {"user_id": user_id, "credits": after}

    def reconcile(self, user_id: int) -> dict[str, Any]:
        """Reset a user's live balance in Redis from the PostgreSQL ledger."""
        if not self.rt.db.one("get_user", user_id=user_id):
            raise UserNotFound(f"no user {user_id}", param="user")
        before, after = self.rt.credits.reconcile(
            user_id, audit=lambda conn, old, new: audit.record(
                conn, self.actor, "credits.reconcile", f"user:{user_id}",
                {"redis_balance": old}, {"redis_balance": new}))
        return {"user_id": user_id, "redis_before": before, "credits": after}

    # -- jobs and the trail --------------------------------------------------------------------
    def job(self, job_id: str) -> dict[str, Any]:
        """Any user's job, with its owner, key and ledger rows."""
        try:
            job_uuid = uuid.UUID(job_id)
        except ValueError:
            raise JobNotFound() from None
        job = self.rt.db.one("job_get_admin", job_id=job_uuid)
        if job is None:
            raise JobNotFound()
        job["ledger"] = self.rt.db.all("job_ledger", job_id=job_uuid)
        if job["status"] == "succeeded" and job["output_key"]:
            job["output_image"] = self.rt.storage.url(job["output_key"])
        return job

    def audit_entries(self, limit: int, cursor: str | None = None, target: str | None = None,
                      action: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
        """The audit trail, newest first."""
        position = pages.decode_cursor(cursor, {"id": int})
        rows = audit.entries(self.rt.db, limit + 1, position and position["id"],
                             target or None, action or None)
        return pages.page(rows, limit, lambda r: {"id": r["id"]})
