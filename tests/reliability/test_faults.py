"""Faults injected into real processes: nothing charged twice, nothing lost, nothing hangs."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from shared.credits import balance_key
from tests.stack import get_token, make_user

pytestmark = pytest.mark.timeout(240)


def small_jpeg(seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    arr = np.zeros((128, 128, 3), np.uint8)
    arr[32:96, 32:96] = rng.integers(0, 255, 3, dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG")
    return buf.getvalue()


def post(client, token: str, url: str, **headers: str):
    return client.post("/api/v1/image/remove-background", json={"input_image": url},
                       headers={"Authorization": f"Bearer {token}", **headers})


def wait_job(rt, job_id, statuses=("succeeded", "failed"), timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = rt.db.one("get_job", job_id=job_id)
        if job and job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job and job['status']}"
        time.sleep(0.1)


def latest_job(rt, user_id: int) -> dict:
    return rt.db.all("recent_jobs", user_id=user_id, limit=1)[0]


def assert_books_balance(rt, user_id: int, granted: int) -> None:
    """Redis agrees with the ledger; charges equal succeeded jobs; no reservation left open."""
    jobs = rt.db.all("recent_jobs", user_id=user_id, limit=10_000)
    assert not [j for j in jobs if j["status"] in ("queued", "running")]
    succeeded = {j["id"] for j in jobs if j["status"] == "succeeded"}
    charged = set()
    for job in jobs:
        kinds = [r["kind"] for r in rt.db.all("ledger_for_job", job_id=job["id"])]
        assert kinds.count("charge") <= 1
        if "charge" in kinds:
            charged.add(job["id"])
    assert charged == succeeded
    assert rt.credits.ledger_balance(user_id) == granted - len(succeeded)
    rt.redis.delete(balance_key(user_id))  # force a rebuild, then compare with what Redis had
    assert rt.credits.balance(user_id) == granted - len(succeeded)


def test_kill_9_worker_mid_task_redelivers_and_charges_once(private_stack, images):
    stack = private_stack
    url = images.add("slow-kill.jpg", small_jpeg(1), delay=3.0)
    app = stack.app()
    client = app.test_client()
    u = make_user(stack.rt, credits=3)
    token = get_token(client, u["api_key"])
    result = {}
    t = threading.Thread(target=lambda: result.update(resp=post(client, token, url)))
    t.start()
    job = None
    deadline = time.monotonic() + 30
    while job is None or job["status"] != "running":
        assert time.monotonic() < deadline
        rows = stack.rt.db.all("recent_jobs", user_id=u["user_id"], limit=1)
        job = rows[0] if rows else None
        time.sleep(0.05)
    images.hits["/slow-kill.jpg"].wait(10)  # the child is inside the fetch now
    victims = stack.worker_children()
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    t.join(120)
    resp = result["resp"]
    assert resp.status_code == 200, resp.get_json()
    record = stack.rt.db.one("get_job", job_id=job["id"])
    assert record["status"] == "succeeded" and record["attempts"] >= 2
    kinds = [r["kind"] for r in stack.rt.db.all("ledger_for_job", job_id=job["id"])]
    assert kinds == ["charge"]
    assert resp.get_json()["credits_remaining"] == 2
    assert_books_balance(stack.rt, u["user_id"], 3)
    app.extensions["bgr"].close()


def test_s3_down_is_503_and_refunded_then_recovers(private_stack, images):
    stack = private_stack
    url = images.add("s3-fault.jpg", small_jpeg(2))
    app = stack.app()
    client = app.test_client()
    u = make_user(stack.rt, credits=2)
    token = get_token(client, u["api_key"])
    stack.stop_service("s3")
    try:
        resp = post(client, token, url)
        body = resp.get_json()
        assert resp.status_code == 503, body
        assert body["error"]["code"] == "storage_unavailable"
        assert latest_job(stack.rt, u["user_id"])["status"] == "failed"
        assert stack.rt.credits.balance(u["user_id"]) == 2
    finally:
        stack.start_service("s3")
    resp = post(client, token, url)  # nothing was restarted but S3
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["credits_remaining"] == 1
    assert_books_balance(stack.rt, u["user_id"], 2)
    app.extensions["bgr"].close()


def test_postgres_restart_clean_errors_then_success(private_stack, images):
    stack = private_stack
    url = images.add("pg-fault.jpg", small_jpeg(3))
    app = stack.app()
    client = app.test_client()
    u = make_user(stack.rt, credits=2)
    token = get_token(client, u["api_key"])
    assert post(client, token, url).status_code == 200
    stack.stop_service("postgres")
    try:
        resp = post(client, token, url)
        body = resp.get_json()
        assert resp.status_code == 503, body  # the revocation check cannot run: not a 401
        assert body["success"] is False and "Traceback" not in resp.get_data(as_text=True)
        resp = client.get("/readyz")
        assert resp.status_code == 503 and "postgres" in resp.get_json()["down"]
    finally:
        stack.start_service("postgres")
    deadline = time.monotonic() + 30
    while True:  # the pool replaces its broken connections
        resp = post(client, token, url)
        if resp.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert resp.status_code == 200, resp.get_json()
    assert_books_balance(stack.rt, u["user_id"], 2)
    app.extensions["bgr"].close()


def test_redis_restart_during_load(private_stack, images):
    """Requests in flight when Redis dies end by their timeout; the books balance afterwards."""
    stack = private_stack
    url = images.add("redis-fault.jpg", small_jpeg(4))
    app = stack.app(request_timeout_seconds=8.0)
    client = app.test_client()
    u = make_user(stack.rt, credits=100)
    token = get_token(client, u["api_key"])
    outcomes: list[tuple[int, float]] = []

    def one() -> None:
        t0 = time.monotonic()
        try:
            status = post(client, token, url).status_code
        except Exception:  # a crash in the client would be a bug: record it as such
            status = -1
        outcomes.append((status, time.monotonic() - t0))

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(one) for _ in range(18)]
        time.sleep(1.5)
        stack.stop_service("redis")
        time.sleep(1.0)
        stack.start_service("redis")
        for f in futures:
            f.result(timeout=120)
    assert all(status in (200, 401, 503, 504) for status, _ in outcomes), outcomes
    assert max(took for _, took in outcomes) < 8.0 + 10  # timeout plus reservation retries
    assert any(status == 200 for status, _ in outcomes)
    # Jobs whose queue message died with Redis are reaped after their deadline: make it now.
    with stack.rt.db.connection() as conn:
        conn.execute("UPDATE jobs SET deadline_at = now() WHERE status IN ('queued','running') "
                     "AND user_id = %s", (u["user_id"],))
    from worker.reaper import reap_overdue

    deadline = time.monotonic() + 60
    while any(j["status"] in ("queued", "running")
              for j in stack.rt.db.all("recent_jobs", user_id=u["user_id"], limit=1000)):
        reap_overdue(stack.rt)
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert_books_balance(stack.rt, u["user_id"], 100)
    app.extensions["bgr"].close()


def test_reaper_fails_and_refunds_overdue_jobs(private_stack):
    """reap_overdue itself, on a database and Redis db no worker's reaper thread watches."""
    import dataclasses
    import uuid as uuid_lib

    import psycopg

    from shared.db import migrate
    from shared.runtime import Runtime
    from worker.reaper import reap_overdue

    stack = private_stack
    name = f"reap_{uuid_lib.uuid4().hex[:8]}"
    base = stack.settings.database_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    migrate(f"{base}/{name}")
    rt = Runtime(dataclasses.replace(stack.settings, database_url=f"{base}/{name}",
                                     redis_url=stack.settings.redis_url[:-1] + "1"))
    try:
        u = make_user(rt, credits=2)
        job_id, after = rt.credits.reserve_job(
            u["user_id"], None, {"input_image": "http://x/y.jpg", "output_format": "png"}, 0)
        assert after == 1
        time.sleep(0.05)
        assert reap_overdue(rt) == 1
        job = rt.db.one("get_job", job_id=job_id)
        assert job["status"] == "failed" and job["error_code"] == "timeout"
        assert rt.credits.balance(u["user_id"]) == 2
        assert reap_overdue(rt) == 0  # nothing twice
    finally:
        rt.redis.flushdb()
        rt.close()


def test_the_workers_reaper_thread_runs(private_stack):
    """The worker process reaps on its own (REAPER_INTERVAL_SECONDS=1 here)."""
    stack = private_stack
    u = make_user(stack.rt, credits=1)
    job_id, _ = stack.rt.credits.reserve_job(
        u["user_id"], None, {"input_image": "http://x/y.jpg", "output_format": "png"}, 0)
    job = wait_job(stack.rt, job_id, ("failed",), timeout=20)
    assert job["error_code"] == "timeout"
    assert stack.rt.credits.balance(u["user_id"]) == 1


def test_queue_deeper_than_the_bound_is_503_without_reservation(private_stack, images):
    stack = private_stack
    url = images.add("queue-bound.jpg", small_jpeg(5))
    # A queue nobody consumes, bounded at 2: two requests wait (and time out), the third is 503.
    app = stack.app(queue_name="nobody-listens", queue_max_depth=2, request_timeout_seconds=0.2)
    client = app.test_client()
    u = make_user(stack.rt, credits=5)
    token = get_token(client, u["api_key"])
    assert post(client, token, url).status_code == 504
    assert post(client, token, url).status_code == 504
    resp = post(client, token, url)
    body = resp.get_json()
    assert resp.status_code == 503 and body["error"]["code"] == "overloaded"
    assert int(resp.headers["Retry-After"]) > 0
    assert len(stack.rt.db.all("recent_jobs", user_id=u["user_id"], limit=10)) == 2
    assert stack.rt.credits.balance(u["user_id"]) == 3  # two reservations, none for the 503
    stack.rt.redis.delete("nobody-listens")
    for job in stack.rt.db.all("recent_jobs", user_id=u["user_id"], limit=10):
        stack.rt.credits.refund(job["id"], "timeout")
    assert stack.rt.credits.balance(u["user_id"]) == 5
    app.extensions["bgr"].close()
