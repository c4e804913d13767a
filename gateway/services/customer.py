"""What a customer may do to their own account: list jobs, and list / issue / revoke keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from gateway.services import audit, pages
from gateway.services.accounts import Accounts
from gateway.services.audit import Actor
from shared.db import Database, q
from shared.errors import InvalidParameter, KeyNotFound, LastActiveKey

JOB_STATUSES = ("queued", "running", "succeeded", "failed")


def list_jobs(db: Database, user_id: int, limit: int, cursor: str | None = None,
              status: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """The user's jobs, newest first, a page at a time; optionally of one status."""
    if status is not None and status not in JOB_STATUSES:
        raise InvalidParameter("status", "'status' must be one of " + ", ".join(JOB_STATUSES)
                               + ".")
    position = pages.decode_cursor(cursor, {"at": str, "id": str})
    before_at = before_id = None
    if position is not None:
        try:
            before_at = datetime.fromisoformat(position["at"])
            before_id = uuid.UUID(position["id"])
        except ValueError:
            raise InvalidParameter("cursor", "'cursor' is not a cursor this API returned.") \
                from None
    rows = db.all("job_list_for_user", user_id=user_id, status=status, limit=limit + 1,
                  before_at=before_at, before_id=before_id)
    return pages.page(rows, limit, lambda r: {"at": r["created_at"].isoformat(),
                                              "id": str(r["id"])})


def list_keys(db: Database, user_id: int) -> list[dict[str, Any]]:
    """Every key of the user, revoked ones included (prefixes only, never a secret)."""
    return db.all("own_keys", user_id=user_id)


def issue_key(db: Database, user_id: int, actor: Actor) -> dict[str, Any]:
    """A new key for the user (shown once), audited as the customer's own action."""
    with db.connection() as conn, conn.transaction():
        conn.execute(q("lock_user_keys"), {"user_id": user_id})
        key = Accounts(db).issue_key(user_id, conn)
        audit.record(conn, actor, "key.issue", f"key:{key.key_prefix}", None,
                     {"user_id": user_id, "key_prefix": key.key_prefix})
    return {"api_key": key.api_key, "key_prefix": key.key_prefix}


def revoke_key(db: Database, user_id: int, prefix: str, actor: Actor,
               confirm: bool = False) -> dict[str, Any]:
    """Revoke one of the user's own keys; its tokens fail at once.

    The user's last active key needs confirm=True: without a key the account is locked out
    until an operator issues a new one. Another user's key is not found (404), like a job.
    """
    with db.connection() as conn, conn.transaction():
        # Under the user's key lock: two concurrent revocations of the last two keys cannot
        # both see "another key remains".
        conn.execute(q("lock_user_keys"), {"user_id": user_id})
        key = conn.execute(q("key_get"), {"prefix": prefix}).fetchone()
        if key is None or int(key["user_id"]) != user_id:
            raise KeyNotFound(f"You have no key with prefix {prefix}.", param="prefix")
        if key["revoked_at"] is None and not confirm:
            active = conn.execute(q("key_active_count"), {"user_id": user_id}).fetchone()["n"]
            if active <= 1:
                raise LastActiveKey()
        revoked = Accounts(db).revoke_key(prefix, conn)
        if key["revoked_at"] is None:  # a repeated DELETE changes nothing: nothing to record
            audit.record(conn, actor, "key.revoke", f"key:{prefix}", {"revoked_at": None},
                         {"revoked_at": revoked["revoked_at"], "user_id": user_id})
    return {"key_prefix": prefix, "revoked_at": revoked["revoked_at"]}
