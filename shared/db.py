"""PostgreSQL: a connection pool, named queries from sql/queries.sql, numbered migrations."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from shared.config import Settings
from shared.errors import DependencyDown

SQL_DIR = Path(__file__).parent / "sql"
MIGRATIONS_DIR = SQL_DIR / "migrations"


@cache
def queries() -> dict[str, str]:
    """Named SQL blocks (`-- name: x`) from every sql/*.sql file, loaded once."""
    out: dict[str, str] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        for block in re.split(r"^-- name: ", path.read_text(), flags=re.M)[1:]:
            name, _, body = block.partition("\n")
            if name.strip() in out:  # one name, one query: a silent override would be a bug
                raise RuntimeError(f"query {name.strip()!r} defined twice ({path.name})")
            out[name.strip()] = body.strip()
    return out


def q(name: str) -> str:
    """The SQL text of one named query."""
    return queries()[name]


class Database:
    """A lazily opened pool; driver errors leave as DependencyDown (503) at this edge."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pool: ConnectionPool | None = None

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            self._pool = ConnectionPool(
                self.settings.database_url, min_size=1, max_size=self.settings.db_pool_max,
                kwargs={"row_factory": dict_row, "autocommit": True, "connect_timeout": 5},
                # check= makes a connection broken by a PostgreSQL restart get replaced
                # instead of failing the next request that borrows it.
                check=ConnectionPool.check_connection, timeout=10, open=True,
                name="bgr",
            )
        return self._pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """Borrow an autocommit connection; use `with conn.transaction():` for atomic work."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DependencyDown("The database is unavailable; retry later.") from exc

    def one(self, name: str, **params: Any) -> dict[str, Any] | None:
        """Run a named query, return its first row (or None)."""
        with self.connection() as conn:
            return conn.execute(q(name), params).fetchone()

    def run(self, name: str, **params: Any) -> None:
        """Run a named statement that returns no rows."""
        with self.connection() as conn:
            conn.execute(q(name), params)

    def all(self, name: str, **params: Any) -> list[dict[str, Any]]:
        """Run a named query, return every row."""
        with self.connection() as conn:
            return conn.execute(q(name), params).fetchall()

    def ping(self) -> None:
        """Raise unless PostgreSQL answers."""
        with self.connection() as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def migration_files() -> list[tuple[int, Path]]:
    """(version, path) of every migration, in order."""
    out = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        out.append((int(path.name.split("_", 1)[0]), path))
    return out


def migrate(database_url: str) -> list[int]:
    """Apply pending migrations in order, each in its own transaction; return those applied."""
    applied: list[int] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        # One migrator at a time (several pods may start together).
        conn.execute("SELECT pg_advisory_lock(0, 1)")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version INT PRIMARY KEY, name TEXT NOT NULL, "
                         "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, path in migration_files():
                if version in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text().encode())
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                                 (version, path.name))
                applied.append(version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(0, 1)")
    return applied


def main(argv: list[str] | None = None) -> int:
    """`python -m shared.db migrate`: apply migrations to $DATABASE_URL."""
    argv = sys.argv[1:] if argv is None else argv
    if argv != ["migrate"]:
        print("usage: python -m shared.db migrate", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    applied = migrate(settings.database_url)
    print(f"migrations applied: {applied or 'none pending'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
