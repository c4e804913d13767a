"""Users and API keys: keys are shown once, stored as a public prefix plus a hashed secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from shared.db import Database, q
from shared.errors import (
    InvalidApiKey,
    InvalidParameter,
    KeyNotFound,
    TooManyKeys,
    Unauthorized,
    UserNotFound,
)

KEY_PREFIX_TAG = "bgr_"
# Active keys one user may hold: enough for every environment and rotation, few enough that a
# script gone wrong cannot fill the table.
MAX_ACTIVE_KEYS = 25


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: `api_key` is the only time the secret exists outside a hash."""

    key_id: int
    user_id: int
    key_prefix: str
    api_key: str


def hash_secret(secret: str) -> str:
    """The stored form of a key or token secret."""
    # Keys carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(api_key: str, tag: str = KEY_PREFIX_TAG,
              error: type[Unauthorized] = InvalidApiKey) -> tuple[str, str]:
    """Split "<tag>xxxx.secret" into (prefix, secret); `error` for anything else."""
    prefix, dot, secret = api_key.strip().partition(".")
    # Keys are printable ASCII: anything else (NUL, lone surrogates) is refused before it
    # reaches PostgreSQL or the hash, which cannot take it.
    if (not dot or not prefix.startswith(tag) or not secret
            or not api_key.isascii() or not api_key.strip().isprintable()):
        raise error()
    return prefix, secret


def secret_matches(row: dict[str, Any] | None, secret: str) -> bool:
    """Whether a stored row (None: unknown prefix) has this secret's hash."""
    # compare_digest on a dummy hash too: a missing prefix costs the same time as a bad secret.
    expected = row["secret_hash"] if row else "0" * 64
    return hmac.compare_digest(expected, hash_secret(secret)) and row is not None


class Accounts:
    """Create users, issue / verify / revoke their keys.

    Methods that write take an optional open connection: given one, they run inside the
    caller's transaction (so an audit entry commits with the change); otherwise on their own.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def _one(self, conn: Any, name: str, **params: Any) -> dict[str, Any] | None:
        if conn is None:
            return self.db.one(name, **params)
        return conn.execute(q(name), params).fetchone()

    def create_user(self, email: str, conn: Any = None) -> int:
        """A new user id (email unique)."""
        if "@" not in email or not email.isprintable() or len(email) > 320:
            raise InvalidParameter("email", "email must look like an address")
        if self._one(conn, "get_user_by_email", email=email):
            raise InvalidParameter("email", f"a user with email {email} exists")
        return int(self._one(conn, "create_user", email=email)["id"])  # type: ignore[index]

    def issue_key(self, user_id: int, conn: Any = None) -> IssuedKey:
        """A new key for the user; the full key is returned here and never again."""
        if not self._one(conn, "get_user", user_id=user_id):
            raise UserNotFound(f"no user {user_id}", param="user")
        if self._one(conn, "key_active_count", user_id=user_id)["n"] >= MAX_ACTIVE_KEYS:  # type: ignore[index]
            raise TooManyKeys(f"at most {MAX_ACTIVE_KEYS} active keys per user; revoke one")
        prefix = KEY_PREFIX_TAG + secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = self._one(conn, "create_api_key", user_id=user_id, prefix=prefix,
                        secret_hash=hash_secret(secret))
        return IssuedKey(int(row["id"]), user_id, prefix, f"{prefix}.{secret}")  # type: ignore[index]

    def verify_key(self, api_key: str) -> tuple[int, int]:
        """(user_id, key_id) for a valid, unrevoked key of an enabled user; InvalidApiKey else."""
        row = self.key_owner(api_key)
        return int(row["user_id"]), int(row["id"])

    def key_owner(self, api_key: str) -> dict[str, Any]:
        """The row of a valid, unrevoked key of an enabled user (`id`, `user_id` and the user's
        own limits); InvalidApiKey else."""
        prefix, secret = split_key(api_key)
        row = self.db.one("get_api_key", prefix=prefix)
        if not secret_matches(row, secret):
            raise InvalidApiKey()
        assert row is not None
        if row["revoked_at"] is not None:
            raise InvalidApiKey("This API key has been revoked.")
        if row["disabled_at"] is not None:
            raise InvalidApiKey("This account has been disabled.")
        self.db.run("touch_api_key", key_id=row["id"])
        return row

    def active_key(self, user_id: int, key_id: int) -> dict[str, Any] | None:
        """The user's own limits while the key a token was issued for is not revoked (nor its
        user disabled); None once it is."""
        return self.db.one("key_is_active", key_id=key_id, user_id=user_id)

    def revoke_key(self, prefix: str, conn: Any = None) -> dict:
        """Revoke by public prefix (idempotent)."""
        row = self._one(conn, "revoke_api_key", prefix=prefix)
        if row is None:
            raise KeyNotFound(f"no key with prefix {prefix}", param="prefix")
        return {"key_prefix": prefix, "user_id": row["user_id"],
                "revoked_at": row["revoked_at"].isoformat()}
