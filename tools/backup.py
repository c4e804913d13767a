"""`make backup` / `make restore`: PostgreSQL (the system of record) dumped in pg_dump's custom
format, its schema version in the file name; a restore replaces the database, applies any
newer migrations and drops Redis' live balances so that they rebuild from the restored ledger.

    python -m tools.backup dump [--out DIR]         # prints the file written
    python -m tools.backup restore [FILE] [--dir D]  # FILE: default the newest in DIR

Reads DATABASE_URL and REDIS_URL (and the other settings) from the environment, like the
gateway: `make backup` / `make restore` point them at the local stack (.run/stack.env).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from shared.config import Settings
from shared.db import migrate, migration_files
from shared.runtime import Runtime
from tools.stack.processes import REPO, postgres_bin_dir

DEFAULT_DIR = REPO / ".run" / "backups"


def schema_version(database_url: str) -> int:
    """The newest migration applied to the database (0 for none)."""
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


def dump(database_url: str, out_dir: Path) -> Path:
    """Write a consistent snapshot (pg_dump takes one transaction) to out_dir; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    version = schema_version(database_url)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"bgr-{stamp}-schema{version:03d}.dump"
    part = path.with_suffix(".part")
    subprocess.run([str(postgres_bin_dir() / "pg_dump"), "--format=custom", "--no-owner",
                    f"--file={part}", f"--dbname={database_url}"], check=True, timeout=3600)
    part.rename(path)  # a dump cut off half-way never carries the final name
    return path


def dumped_schema_version(path: Path) -> int:
    """The schema version a dump holds, read from its schema_migrations data."""
    proc = subprocess.run([str(postgres_bin_dir() / "pg_restore"), "--data-only",
                           "--table=schema_migrations", "--file=-", str(path)],
                          check=True, capture_output=True, text=True, timeout=600)
    versions, copying = [0], False
    for line in proc.stdout.splitlines():
        if line.startswith("COPY ") and "schema_migrations" in line:
            copying = True
        elif copying and line == "\\.":
            copying = False
        elif copying:
            versions.append(int(line.split("\t", 1)[0]))
    return max(versions)


def restore(path: Path, settings: Settings) -> dict[str, int]:
    """Replace the database of settings.database_url with the dump, migrate it forward, and
    drop the Redis balances. Refuses a dump from a newer schema than this code knows."""
    code_version = max((v for v, _ in migration_files()), default=0)
    version = dumped_schema_version(path)
    if version > code_version:
        raise SystemExit(f"{path.name} has schema {version}; this code knows up to "
                         f"{code_version}: restore it with the release that wrote it")
    server, _, dbname = settings.database_url.rpartition("/")
    dbname = dbname.split("?", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=10) as conn:
        # FORCE: the gateway's and workers' pooled connections would hold the database open.
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    subprocess.run([str(postgres_bin_dir() / "pg_restore"), "--no-owner", "--exit-on-error",
                    f"--dbname={settings.database_url}", str(path)], check=True, timeout=3600)
    applied = migrate(settings.database_url)
    rt = Runtime(settings)
    try:
        dropped = rt.credits.forget_balances()
    finally:
        rt.close()
    return {"schema_version": version, "migrations_applied": len(applied),
            "balances_dropped": dropped}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.backup")
    sub = parser.add_subparsers(dest="command", required=True)
    dump_cmd = sub.add_parser("dump", help="pg_dump the database (custom format)")
    dump_cmd.add_argument("--out", type=Path, default=DEFAULT_DIR)
    restore_cmd = sub.add_parser("restore", help="replace the database with a dump")
    restore_cmd.add_argument("file", type=Path, nargs="?")
    restore_cmd.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.command == "dump":
        print(dump(settings.database_url, args.out))
        return 0
    path = args.file
    if path is None:
        dumps = sorted(args.dir.glob("bgr-*.dump"))
        if not dumps:
            print(f"no dump in {args.dir}; make backup first", file=sys.stderr)
            return 1
        path = dumps[-1]
    result = restore(path, settings)
    print(f"restored {path} (schema {result['schema_version']}, "
          f"{result['migrations_applied']} migrations applied since, "
          f"{result['balances_dropped']} Redis balances dropped: they rebuild from the ledger)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
