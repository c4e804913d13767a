"""The credit invariants of design.md, against real Redis and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.credits import balance_key
from shared.errors import InsufficientCredits, InvalidParameter
from tests.stack import make_user

PARAMS = {"input_image": "http://example.com/a.jpg", "output_format": "png"}


def reserve(rt, user_id):
    return rt.credits.reserve_job(user_id, None, PARAMS, 600)


def test_parallel_reservations_never_overdraw(rt):
    """64 threads against 10 credits: exactly 10 succeed, the balance ends at 0."""
    uid = make_user(rt, credits=10)["user_id"]
    barrier = threading.Barrier(64)

    def attempt(_):
        barrier.wait()
        try:
            return reserve(rt, uid)
        except InsufficientCredits:
            return None

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(attempt, range(64)))
    won = [r for r in results if r is not None]
    assert len(won) == 10
    assert sorted(b for _, b in won) == list(range(10))  # each saw its own balance after
    assert rt.credits.balance(uid) == 0
    assert rt.credits.ledger_balance(uid) == 0
    # The losers left no job behind.
    assert len(rt.db.all("recent_jobs", user_id=uid, limit=100)) == 10


def test_parallel_reservations_when_redis_has_no_balance_yet(rt):
    """The first reservations load the balance from PostgreSQL concurrently: still exact."""
    uid = make_user(rt, credits=7)["user_id"]
    rt.redis.delete(balance_key(uid))
    barrier = threading.Barrier(32)

    def attempt(_):
        barrier.wait()
        try:
            return reserve(rt, uid)
        except InsufficientCredits:
            return None

    with ThreadPoolExecutor(32) as pool:
        won = [r for r in pool.map(attempt, range(32)) if r is not None]
    assert len(won) == 7
    assert rt.credits.balance(uid) == 0 == rt.credits.ledger_balance(uid)


def test_commit_charges_once_and_refund_gives_back_once(rt):
    uid = make_user(rt, credits=3)["user_id"]
    job_a, after = reserve(rt, uid)
    assert after == 2
    assert rt.credits.commit(job_a, "outputs/a.png", {"segment": 0.1}) is True
    assert rt.credits.commit(job_a, "outputs/a.png", {"segment": 0.1}) is True  # repeat: no-op
    charges = [r for r in rt.db.all("ledger_for_job", job_id=job_a) if r["kind"] == "charge"]
    assert charges == [{"kind": "charge", "amount": -1}]
    assert rt.credits.balance(uid) == 2

    job_b, after = reserve(rt, uid)
    assert after == 1
    assert rt.credits.refund(job_b, "invalid_image", "nope") is True
    assert rt.credits.refund(job_b, "invalid_image", "nope") is False  # repeat: no-op
    assert rt.credits.balance(uid) == 2 == rt.credits.ledger_balance(uid)
    # A failed job can no longer be committed (no charge for a job that failed).
    assert rt.credits.commit(job_b, "outputs/b.png", {}) is False
    assert rt.db.all("ledger_for_job", job_id=job_b) == []
    assert rt.credits.balance(uid) == 2


def test_refund_of_a_charged_job_writes_one_refund_row(rt):
    uid = make_user(rt, credits=1)["user_id"]
    job, _ = reserve(rt, uid)
    rt.credits.commit(job, "outputs/x.png", {})
    assert rt.credits.balance(uid) == 0
    assert rt.credits.refund(job, "operator", "goodwill") is True
    assert rt.credits.refund(job, "operator", "goodwill") is False
    kinds = [r["kind"] for r in rt.db.all("ledger_for_job", job_id=job)]
    assert kinds == ["charge", "refund"]
    assert rt.credits.balance(uid) == 1 == rt.credits.ledger_balance(uid)


def test_insufficient_credits_records_nothing(rt):
    uid = make_user(rt, credits=0)["user_id"]
    with pytest.raises(InsufficientCredits) as info:
        reserve(rt, uid)
    assert info.value.status == 402
    assert rt.db.all("recent_jobs", user_id=uid, limit=10) == []
    assert rt.credits.balance(uid) == 0


def test_flushall_mid_run_rebuilds_balances_from_the_ledger(rt):
    """Reserve, FLUSHALL, finish the jobs: Redis agrees with PostgreSQL, nothing lost or made."""
    uid = make_user(rt, credits=20)["user_id"]
    jobs = [reserve(rt, uid)[0] for _ in range(6)]  # 6 open reservations
    rt.credits.commit(jobs[0], "outputs/0.png", {})
    rt.credits.refund(jobs[1], "invalid_image")
    rt.redis.flushall()
    # Redis lost everything; the next read rebuilds: 20 - 1 charged - 4 still open.
    assert rt.credits.balance(uid) == 15
    for job in jobs[2:4]:
        rt.credits.commit(job, "outputs/k.png", {})
    for job in jobs[4:]:
        rt.credits.refund(job, "timeout")
    rt.redis.flushall()
    later = [reserve(rt, uid)[0] for _ in range(2)]
    rt.credits.commit(later[0], "outputs/l.png", {})
    rt.credits.refund(later[1], "timeout")
    # 20 - 3 charged earlier - 1 charged later.
    assert rt.credits.balance(uid) == 16 == rt.credits.ledger_balance(uid)


def test_flush_during_concurrent_traffic_then_reconcile_is_a_noop(rt):
    uid = make_user(rt, credits=40)["user_id"]
    stop = threading.Event()

    def traffic(i):
        n = 0
        while not stop.is_set() and n < 15:
            try:
                job, _ = reserve(rt, uid)
            except InsufficientCredits:
                return
            (rt.credits.commit(job, f"outputs/{uuid.uuid4()}.png", {}) if (i + n) % 2
             else rt.credits.refund(job, "x"))
            n += 1

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(traffic, i) for i in range(4)]
        for _ in range(3):
            rt.redis.flushall()
        for f in futures:
            f.result(timeout=60)
    stop.set()
    redis_had, truth = rt.credits.reconcile(uid)
    assert redis_had in (None, truth)  # None: flushed after the last change
    assert truth == rt.credits.balance(uid) >= 0


def test_grant_and_correction_never_below_zero(rt):
    uid = make_user(rt, credits=5)["user_id"]
    assert rt.credits.grant(uid, 3) == 8
    assert rt.credits.grant(uid, -8) == 0
    with pytest.raises(InvalidParameter):
        rt.credits.grant(uid, -1)
    assert rt.credits.balance(uid) == 0 == rt.credits.ledger_balance(uid)


def test_gateway_credits_remaining_is_the_balance_after_the_charge(rt):
    uid = make_user(rt, credits=3)["user_id"]
    balances = [reserve(rt, uid)[1] for _ in range(3)]
    assert balances == [2, 1, 0]
