"""The append-only audit trail: who changed what, through which token, before and after."""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from typing import Any

from shared.db import Database, q


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an admin token, the CLI's OS user, or a customer (self-service)."""

    name: str  # "admin:<token name>", "cli:<os user>", "user:<id>"
    admin_token_id: int | None = None
    request_id: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (some containers)
            who = "unknown"
        return cls(f"cli:{who}")

    @classmethod
    def customer(cls, user_id: int, request_id: str | None = None) -> Actor:
        return cls(f"user:{user_id}", request_id=request_id)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, sort_keys=True)


def record(conn: Any, actor: Actor, action: str, target: str, before: Any = None,
           after: Any = None) -> None:
    """Append one entry inside the caller's transaction: the change and its record commit
    together or not at all."""
    conn.execute(q("audit_insert"), {
        "actor": actor.name, "admin_token_id": actor.admin_token_id, "action": action,
        "target": target, "before": _json(before), "after": _json(after),
        "request_id": actor.request_id})


def entries(db: Database, limit: int, before_id: int | None = None, target: str | None = None,
            action: str | None = None) -> list[dict[str, Any]]:
    """Newest first; `limit` rows at most, older than before_id when given."""
    return db.all("audit_list", limit=limit, before_id=before_id, target=target, action=action)
