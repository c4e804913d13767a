"""The credit engine: reserve in Redis (Lua), commit or refund with ledger rows in PostgreSQL.

Invariant: Redis balance(user) == sum(ledger amounts) - count(open jobs), where open = queued or
running. Every step that changes either side of that equation for a user runs inside a
PostgreSQL transaction holding the user's advisory lock, and touches Redis before it commits.
So a balance loaded from PostgreSQL (also under the lock) can never interleave with a change
half-applied; a Redis wipe only costs a reload. A commit (charge row + job closed) leaves the
equation unchanged and needs no Redis step at all.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis as redis_lib

from shared.db import Database, q
from shared.errors import (
    DependencyDown,
    IdempotencyMismatch,
    InsufficientCredits,
    InvalidParameter,
)

LUA_DIR = Path(__file__).parent / "lua"
# Called inside a balance change's transaction with (connection, before, after): the audit
# trail's entry commits with the change or not at all.
OnChange = Callable[[Any, Any, Any], None]

# Adds to a balance only when Redis holds one: a missing key is rebuilt from PostgreSQL later.
_INCR_IF_LOADED = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return nil
"""


def _count(op: str) -> None:
    """Count one credit operation for Prometheus (reserve, commit, refund, replay)."""
    # Imported here, not at the top: importing credits must not import prometheus_client,
    # whose first import fixes multiprocess mode (a worker decides that before; shared.metrics).
    from shared.metrics import count_credit_op

    count_credit_op(op)


def balance_key(user_id: int) -> str:
    """Redis key of a user's live balance."""
    return f"bgr:balance:{user_id}"


class Credits:
    """Reserve / commit / refund / grant, keeping Redis and the PostgreSQL ledger in step."""

    def __init__(self, db: Database, redis: redis_lib.Redis) -> None:
        self.db = db
        self.redis = redis
        self._reserve = redis.register_script((LUA_DIR / "reserve.lua").read_text())
        self._incr = redis.register_script(_INCR_IF_LOADED)

    # -- reads -------------------------------------------------------------------------------
    def balance(self, user_id: int) -> int:
        """The live balance (reservations deducted), loading it from PostgreSQL if Redis lost it."""
        try:
            cached = self.redis.get(balance_key(user_id))
        except redis_lib.RedisError as exc:
            raise DependencyDown("Redis is unavailable; retry later.") from exc
        if cached is not None:
            return int(cached)
        with self.db.connection() as conn, conn.transaction():
            conn.execute(q("lock_user"), {"user_id": user_id})
            value = self._load(conn, user_id)
            self._redis(self.redis.set, balance_key(user_id), value)
        return value

    def ledger_balance(self, user_id: int) -> int:
        """What PostgreSQL says the balance is: ledger sum minus open reservations."""
        return int(self.db.one("available_balance", user_id=user_id)["balance"])

    # -- the request path --------------------------------------------------------------------
    def reserve_job(self, user_id: int, api_key_id: int | None, params: dict[str, Any],
                    deadline_seconds: int,
                    job_id: uuid.UUID | None = None) -> tuple[uuid.UUID, int]:
        """Record a job and reserve one credit for it, atomically; return (job id, balance after).

        Raises InsufficientCredits (nothing recorded) when the balance is below one.
        """
        job_id, after, _ = self.reserve_idempotent(user_id, api_key_id, params,
                                                   deadline_seconds, None, None, job_id)
        return job_id, after

    def reserve_idempotent(self, user_id: int, api_key_id: int | None, params: dict[str, Any],
                           deadline_seconds: int, idem_key: str | None,
                           request_hash: str | None, job_id: uuid.UUID | None = None,
                           ) -> tuple[uuid.UUID, int, bool]:
        """Like reserve_job; with an Idempotency-Key seen in the last 24 h, reserve nothing and
        return the first job instead: (job id, balance after the first request, replayed=True).

        The same key with another request body raises IdempotencyMismatch. The lookup runs under
        the user's lock, so two concurrent requests with one key reserve once.
        """
        job_id = job_id or uuid.uuid4()
        key = balance_key(user_id)
        reserved = False
        try:
            with self.db.connection() as conn, conn.transaction():
                conn.execute(q("lock_user"), {"user_id": user_id})
                if idem_key is not None:
                    seen = conn.execute(q("get_idempotency_key"),
                                        {"user_id": user_id, "key": idem_key}).fetchone()
                    if seen is not None and seen["fresh"]:
                        if seen["request_hash"] != request_hash:
                            raise IdempotencyMismatch()
                        _count("replay")
                        return seen["job_id"], int(seen["credits_after"]), True
                    if seen is not None:  # older than 24 h: the key may be used again
                        conn.execute(q("delete_idempotency_key"),
                                     {"user_id": user_id, "key": idem_key})
                conn.execute(q("insert_job"), {
                    "job_id": job_id, "user_id": user_id, "api_key_id": api_key_id,
                    "params": json.dumps(params), "deadline_seconds": deadline_seconds})
                status, value = self._redis(self._reserve, keys=[key], args=[1])
                if status == -1:
                    # Our own uncommitted job row already counts as open: add it back.
                    self._redis(self.redis.set, key, self._load(conn, user_id) + 1)
                    status, value = self._redis(self._reserve, keys=[key], args=[1])
                if status != 1:
                    raise InsufficientCredits(credits=int(value))
                reserved = True
                if idem_key is not None:
                    conn.execute(q("insert_idempotency_key"), {
                        "user_id": user_id, "key": idem_key, "request_hash": request_hash,
                        "job_id": job_id, "credits_after": int(value)})
        except BaseException:
            if reserved:
                # The job row did not commit: give the reserved credit back (best effort;
                # `reconcile` repairs what a crash at this exact point leaves behind).
                with contextlib.suppress(redis_lib.RedisError):
                    self._incr(keys=[key], args=[1])
            raise
        _count("reserve")
        return job_id, int(value), False

    def commit(self, job_id: uuid.UUID | str, output_key: str, timings: dict[str, Any],
               notes: list[str] | None = None) -> bool:
        """Mark the job succeeded and charge it once; False if it was already closed as failed.

        notes: what the job's record should say besides its timings (e.g. an ignored profile).
        """
        with self.db.connection() as conn, conn.transaction():
            row = conn.execute(q("job_succeeded"), {
                "job_id": job_id, "output_key": output_key, "timings": json.dumps(timings),
                "notes": json.dumps(notes) if notes else None}).fetchone()
            if row is None:
                job = conn.execute(q("get_job"), {"job_id": job_id}).fetchone()
                return bool(job and job["status"] == "succeeded")
            conn.execute(q("ledger_insert"), {
                "user_id": row["user_id"], "kind": "charge", "amount": -1, "job_id": job_id,
                "note": None})
        _count("commit")  # after the transaction: a charge that rolled back is not counted
        return True

    def refund(self, job_id: uuid.UUID | str, error_code: str = "refunded",
               error_message: str = "", timings: dict[str, Any] | None = None,
               notes: list[str] | None = None) -> bool:
        """Give the job's credit back, once: fail an open job, or reverse a committed charge.

        notes: what the failed job's record should say besides its error (as commit's).
        """
        job = self.db.one("get_job", job_id=job_id)
        if job is None:
            return False
        user_id = job["user_id"]
        with self.db.connection() as conn, conn.transaction():
            conn.execute(q("lock_user"), {"user_id": user_id})
            closed = conn.execute(q("job_failed"), {
                "job_id": job_id, "error_code": error_code, "error_message": error_message,
                "timings": json.dumps(timings) if timings is not None else None,
                "notes": json.dumps(notes) if notes else None}).fetchone()
            if closed is None:
                kinds = {r["kind"] for r in conn.execute(q("ledger_for_job"),
                                                         {"job_id": job_id}).fetchall()}
                if "charge" not in kinds or "refund" in kinds:
                    return False  # failed before, or refunded before: nothing to give back
                conn.execute(q("ledger_insert"), {
                    "user_id": user_id, "kind": "refund", "amount": 1, "job_id": job_id,
                    "note": error_message or None})
            self._redis(self._incr, keys=[balance_key(user_id)], args=[1])
        _count("refund")
        return True

    # -- operators ---------------------------------------------------------------------------
    def grant(self, user_id: int, amount: int, note: str | None = None,
              audit: OnChange | None = None) -> int:
        """Add (or, negative, correct away) credits; the balance never goes below zero.

        audit(conn, before, after), if given, runs inside the same transaction.
        """
        if amount == 0:
            raise InvalidParameter("credits", "credits must be non-zero")
        with self.db.connection() as conn, conn.transaction():
            conn.execute(q("lock_user"), {"user_id": user_id})
            current = self._load(conn, user_id)
            if current + amount < 0:
                raise InvalidParameter(
                    "credits", f"a correction of {amount} would leave the balance below zero "
                               f"(balance {current})")
            conn.execute(q("ledger_insert"), {
                "user_id": user_id, "kind": "grant" if amount > 0 else "correction",
                "amount": amount, "job_id": None, "note": note})
            if audit is not None:
                audit(conn, current, current + amount)
            self._redis(self.redis.set, balance_key(user_id), current + amount)
        return current + amount

    def reconcile(self, user_id: int, audit: OnChange | None = None) -> tuple[int | None, int]:
        """Reset the Redis balance from the ledger; return (what Redis had, the truth)."""
        with self.db.connection() as conn, conn.transaction():
            conn.execute(q("lock_user"), {"user_id": user_id})
            truth = self._load(conn, user_id)
            old = self._redis(self.redis.getset, balance_key(user_id), truth)
            if audit is not None:
                audit(conn, int(old) if old is not None else None, truth)
        return (int(old) if old is not None else None), truth

    def forget_balances(self) -> int:
        """Drop every live balance from Redis (after a database restore): each is rebuilt
        from the ledger on its next read. Returns how many were dropped."""
        dropped = 0
        for key in self._redis(lambda: list(self.redis.scan_iter(match=balance_key("*"),
                                                                  count=1000))):
            dropped += int(self._redis(self.redis.delete, key))
        return dropped

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _load(conn: Any, user_id: int) -> int:
        return int(conn.execute(q("available_balance"), {"user_id": user_id}).fetchone()["balance"])

    @staticmethod
    def _redis(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except redis_lib.RedisError as exc:
            raise DependencyDown("Redis is unavailable; retry later.") from exc
