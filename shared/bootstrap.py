"""`python -m shared.bootstrap`: apply migrations and create the output bucket (idempotent)."""

from __future__ import annotations

from shared.config import Settings
from shared.db import migrate
from shared.storage import Storage


def main() -> int:
    """Prepare PostgreSQL and S3 for this release; safe to run on every deploy."""
    settings = Settings.from_env()
    print(f"migrations applied: {migrate(settings.database_url) or 'none pending'}")
    Storage(settings).ensure_bucket()
    print(f"bucket {settings.s3_bucket} ready")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
