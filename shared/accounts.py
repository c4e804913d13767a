"""Users and API keys: keys are shown once, stored as a public prefix plus a hashed secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from shared.db import Database
from shared.errors import InvalidApiKey, InvalidParameter

KEY_PREFIX_TAG = "bgr_"


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: `api_key` is the only time the secret exists outside a hash."""

    key_id: int
    user_id: int
    key_prefix: str
    api_key: str


def _hash_secret(secret: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(api_key: str) -> tuple[str, str]:
    """Split "bgr_xxxx.secret" into (prefix, secret); InvalidApiKey for anything else."""
    prefix, dot, secret = api_key.strip().partition(".")
    # Keys are printable ASCII: anything else (NUL, lone surrogates) is refused before it
    # reaches PostgreSQL or the hash, which cannot take it.
    if (not dot or not prefix.startswith(KEY_PREFIX_TAG) or not secret
            or not api_key.isascii() or not api_key.strip().isprintable()):
        raise InvalidApiKey()
    return prefix, secret


class Accounts:
    """Create users, issue / verify / revoke their keys."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def create_user(self, email: str) -> int:
        """A new user id (email unique)."""
        if "@" not in email:
            raise InvalidParameter("email", "email must look like an address")
        if self.db.one("get_user_by_email", email=email):
            raise InvalidParameter("email", f"a user with email {email} exists")
        return int(self.db.one("create_user", email=email)["id"])

    def issue_key(self, user_id: int) -> IssuedKey:
        """A new key for the user; the full key is returned here and never again."""
        if not self.db.one("get_user", user_id=user_id):
            raise InvalidParameter("user", f"no user {user_id}")
        prefix = KEY_PREFIX_TAG + secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = self.db.one("create_api_key", user_id=user_id, prefix=prefix,
                          secret_hash=_hash_secret(secret))
        return IssuedKey(int(row["id"]), user_id, prefix, f"{prefix}.{secret}")

    def verify_key(self, api_key: str) -> tuple[int, int]:
        """(user_id, key_id) for a valid, unrevoked key; InvalidApiKey otherwise."""
        prefix, secret = split_key(api_key)
        row = self.db.one("get_api_key", prefix=prefix)
        # compare_digest on a dummy hash too: a missing prefix costs the same time as a bad secret.
        expected = row["secret_hash"] if row else "0" * 64
        if not hmac.compare_digest(expected, _hash_secret(secret)) or not row:
            raise InvalidApiKey()
        if row["revoked_at"] is not None:
            raise InvalidApiKey("This API key has been revoked.")
        self.db.run("touch_api_key", key_id=row["id"])
        return int(row["user_id"]), int(row["id"])

    def key_is_active(self, user_id: int, key_id: int) -> bool:
        """True while the key a token was issued for is not revoked."""
        return self.db.one("key_is_active", key_id=key_id, user_id=user_id) is not None

    def revoke_key(self, prefix: str) -> dict:
        """Revoke by public prefix (idempotent)."""
        row = self.db.one("revoke_api_key", prefix=prefix)
        if row is None:
            raise InvalidParameter("prefix", f"no key with prefix {prefix}")
        return {"key_prefix": prefix, "user_id": row["user_id"],
                "revoked_at": row["revoked_at"].isoformat()}
