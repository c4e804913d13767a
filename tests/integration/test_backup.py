"""Backups: a dump restored into an empty PostgreSQL, with Redis flushed, gives back every
balance, job and ledger row exactly as before."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from shared.config import Settings
from shared.db import migration_files
from shared.runtime import Runtime
from tests.stack import make_admin_token, make_job, make_user
from tools.backup import dumped_schema_version
from tools.stack.processes import REPO, free_port, start_postgres

# Every table, in a stable order: the restored copy must equal the original row for row.
TABLES = {"users": "id", "api_keys": "id", "jobs": "id", "credit_ledger": "id",
          "idempotency_keys": "user_id, key", "admin_tokens": "id", "audit_log": "id",
          "schema_migrations": "version"}


def snapshot(database_url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(database_url) as conn:
        return {table: conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()  # noqa: S608
                for table, order in TABLES.items()}


def balances(rt: Runtime) -> dict[int, tuple[int, int]]:
    users = [r["id"] for r in rt.db.all("user_list", after_id=None, email=None, limit=10**6)]
    return {uid: (rt.credits.balance(uid), rt.credits.ledger_balance(uid)) for uid in users}


def backup_cli(env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "tools.backup", *args],
                          env={**os.environ, **env}, cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.strip()


def test_restore_into_an_empty_postgres_gives_back_everything(stack_env, settings, rt, services,
                                                              tmp_path):
    for credits, outcomes in ((5, ("succeeded", "failed", "queued")), (3, ("succeeded",)),
                              (0, ())):
        user = make_user(rt, credits=credits)
        for outcome in outcomes:
            make_job(rt, user, outcome)
    rt.credits.grant(user["user_id"], 7, "goodwill")
    make_admin_token(rt, "read")

    # The worker's reaper may close an overdue job at any time: dump until nothing moved.
    for _ in range(3):
        before_rows = snapshot(settings.database_url)
        path = Path(backup_cli(stack_env, "dump", "--out", str(tmp_path / "backups")))
        if snapshot(settings.database_url) == before_rows:
            break
    before_balances = balances(rt)
    version = max(v for v, _ in migration_files())
    assert path.name.endswith(f"-schema{version:03d}.dump"), path.name
    assert dumped_schema_version(path) == version

    empty = start_postgres(tmp_path / "pg", free_port(), services.log_dir)
    try:
        port = empty.proc.args[empty.proc.args.index("-p") + 1]
        env = {**stack_env, "DATABASE_URL": f"postgresql://bgr@127.0.0.1:{port}/bgr"}
        rt.redis.flushall()  # Redis lost too: balances must come back from the ledger alone
        out = backup_cli(env, "restore", str(path))
        assert "restored" in out and f"schema {version}" in out
        assert snapshot(env["DATABASE_URL"]) == before_rows
        restored = Runtime(Settings.from_env(env))
        try:
            assert balances(restored) == before_balances
        finally:
            restored.close()
        assert balances(rt) == before_balances  # and the original, after the flush
        # Restoring again over a database in use replaces it (the default: the newest dump).
        out = backup_cli(env, "restore", "--dir", str(path.parent))
        assert snapshot(env["DATABASE_URL"]) == before_rows
    finally:
        empty.stop()


def test_restore_refuses_a_dump_from_newer_code(stack_env, tmp_path, monkeypatch, settings):
    path = Path(backup_cli(stack_env, "dump", "--out", str(tmp_path)))
    monkeypatch.setattr("tools.backup.migration_files", lambda: [(1, Path("001_initial.sql"))])
    from tools.backup import restore

    # Pointed at no server at all: if the check did not refuse first, nothing is lost.
    nowhere = dataclasses.replace(
        settings, database_url=f"postgresql://bgr@127.0.0.1:{free_port()}/nothing")
    try:
        restore(path, nowhere)
    except SystemExit as exc:
        assert "this code knows up to 1" in str(exc)
    else:
        raise AssertionError("a dump from newer code was restored")
