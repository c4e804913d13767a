"""Migrations build the expected schema from an empty database, once."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from shared.db import migrate, migration_files

EXPECTED_COLUMNS = {
    "users": {"id", "email", "created_at", "disabled_at", "rate_limit_per_minute",
              "max_concurrent"},
    "api_keys": {"id", "user_id", "prefix", "secret_hash", "created_at", "last_used_at",
                 "revoked_at"},
    "jobs": {"id", "user_id", "api_key_id", "status", "params", "output_key", "error_code",
             "error_message", "timings", "notes", "attempts", "created_at", "started_at",
             "finished_at", "deadline_at"},
    "credit_ledger": {"id", "user_id", "kind", "amount", "job_id", "note", "created_at"},
    "schema_migrations": {"version", "name", "applied_at"},
    "idempotency_keys": {"user_id", "key", "request_hash", "job_id", "credits_after",
                         "created_at"},
    "admin_tokens": {"id", "name", "prefix", "secret_hash", "scope", "created_at",
                     "last_used_at", "revoked_at"},
    "audit_log": {"id", "at", "actor", "admin_token_id", "action", "target", "before",
                  "after", "request_id"},
}


@pytest.fixture()
def empty_db(settings):
    name = f"m_{uuid.uuid4().hex[:10]}"
    admin_url = settings.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield settings.database_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_migrations_from_zero_give_the_expected_schema(empty_db):
    applied = migrate(empty_db)
    assert applied == [v for v, _ in migration_files()]
    with psycopg.connect(empty_db) as conn:
        rows = conn.execute("SELECT table_name, column_name FROM information_schema.columns "
                            "WHERE table_schema = 'public'").fetchall()
        indexes = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")}
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    assert columns == EXPECTED_COLUMNS
    assert "credit_ledger_job_kind_uq" in indexes
    assert "api_keys_prefix_key" in indexes
    # Running again applies nothing.
    assert migrate(empty_db) == []


def test_ledger_is_append_only_and_one_charge_per_job(empty_db):
    migrate(empty_db)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        uid = conn.execute("INSERT INTO users (email) VALUES ('a@b.c') RETURNING id").fetchone()[0]
        job = uuid.uuid4()
        conn.execute("INSERT INTO jobs (id, user_id, params, deadline_at) "
                     "VALUES (%s, %s, '{}', now())", (job, uid))
        conn.execute("INSERT INTO credit_ledger (user_id, kind, amount, job_id) "
                     "VALUES (%s, 'charge', -1, %s)", (uid, job))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO credit_ledger (user_id, kind, amount, job_id) "
                         "VALUES (%s, 'charge', -1, %s)", (uid, job))
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE credit_ledger SET amount = 5")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM credit_ledger")
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO credit_ledger (user_id, kind, amount) "
                         "VALUES (%s, 'grant', -3)", (uid,))
