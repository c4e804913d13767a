"""Admin tokens: created by the CLI, shown once, stored hashed, scoped read or write."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from gateway.services import audit
from gateway.services.accounts import hash_secret, secret_matches, split_key
from gateway.services.audit import Actor
from shared.db import Database, q
from shared.errors import InvalidAdminToken, InvalidParameter, NotFound

TOKEN_PREFIX_TAG = "bga_"  # noqa: S105 - a public tag; never "bgr_": an admin token is no API key, and the reverse
SCOPES = ("read", "write")


@dataclass(frozen=True)
class AdminToken:
    """A verified admin token (the secret is gone)."""

    token_id: int
    name: str
    prefix: str
    scope: str


class AdminTokens:
    """Create, verify, list and revoke admin tokens."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, name: str, scope: str, actor: Actor) -> dict[str, Any]:
        """A new token; its `token` field is the only time the secret exists unhashed."""
        name = name.strip()
        if not name or len(name) > 100 or not name.isprintable():
            raise InvalidParameter("name", "name must be 1 to 100 printable characters")
        if scope not in SCOPES:
            raise InvalidParameter("scope", "scope must be read or write")
        prefix = TOKEN_PREFIX_TAG + secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(q("admin_token_create"), {
                "name": name, "prefix": prefix, "scope": scope,
                "secret_hash": hash_secret(secret)}).fetchone()
            audit.record(conn, actor, "admin_token.create", f"admin_token:{prefix}", None,
                         {"name": name, "scope": scope})
        return {"token": f"{prefix}.{secret}", **row}

    def verify(self, token: str) -> AdminToken:
        """The token behind a bearer value; InvalidAdminToken for anything else."""
        prefix, secret = split_key(token, TOKEN_PREFIX_TAG, InvalidAdminToken)
        row = self.db.one("admin_token_get", prefix=prefix)
        if not secret_matches(row, secret):
            raise InvalidAdminToken()
        assert row is not None
        if row["revoked_at"] is not None:
            raise InvalidAdminToken("This admin token has been revoked.")
        self.db.run("admin_token_touch", token_id=row["id"])
        return AdminToken(int(row["id"]), row["name"], row["prefix"], row["scope"])

    def revoke(self, prefix: str, actor: Actor) -> dict[str, Any]:
        """Revoke by prefix (idempotent); requests with it fail from now on."""
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(q("admin_token_revoke"), {"prefix": prefix}).fetchone()
            if row is None:
                raise NotFound(f"no admin token with prefix {prefix}", param="prefix")
            audit.record(conn, actor, "admin_token.revoke", f"admin_token:{prefix}", None,
                         {"revoked_at": row["revoked_at"]})
        return row

    def list(self, prefix: str | None = None) -> list[dict[str, Any]]:
        """Every token (never a secret), optionally those whose prefix starts with `prefix`."""
        return self.db.all("admin_token_list", prefix=prefix or None)
