"""A user's own limits, set through the admin API, enforced: their rate limit (429 with their
own X-RateLimit-*) and their image requests in flight (429 `concurrency_limited` before any
reservation), in each API's error format; every other user keeps the defaults."""

from __future__ import annotations

import dataclasses
import io
import queue
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from gateway.app import create_app
from gateway.services import concurrency
from shared.models import queue_for
from tests.security.util import (
    ENDPOINT,
    assert_balance,
    assert_error,
    assert_no_job,
    auth,
    post_remove,
)
from tests.stack import consumer_paused, get_token, make_admin_token, make_user
from tools.stack.processes import free_port, start_gateway, wait_http_ok

pytestmark = pytest.mark.timeout(180)


@pytest.fixture()
def write(rt) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_admin_token(rt, 'write')}"}


@pytest.fixture()
def make_app(settings):
    """Gateway apps with settings changed, closed after the test."""
    made = []

    def make(**changes: Any):
        app = create_app(dataclasses.replace(settings, **changes))
        app.config.update(TESTING=True)
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["bgr"].close()


def set_limits(client, write: dict[str, str], user_id: int, **limits: int | None) -> None:
    resp = client.patch(f"/admin/v1/users/{user_id}/limits", headers=write, json=limits)
    assert resp.status_code == 200, resp.get_json()


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"still not: {what}"
        time.sleep(0.05)


def slots(rt, user_id: int) -> int:
    """Members of the user's slot set, expired or not: 0 only once each was given back."""
    return rt.redis.zcard(concurrency.slots_key(user_id))


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 32), (200, 40, 90)).save(buf, "PNG")
    return buf.getvalue()


# -- the rate limit -----------------------------------------------------------------------------
def test_own_rate_limit_applies_from_the_next_request_others_keep_the_default(
        rt, client, write, images):
    user, other = make_user(rt, credits=3), make_user(rt, credits=3)
    token = get_token(client, user["api_key"])
    set_limits(client, write, user["user_id"], rate_limit_per_minute=3)
    for i in range(3):
        resp = client.get("/api/v1/user/credits", headers=auth(token))
        assert resp.status_code == 200
        assert resp.headers["X-RateLimit-Limit"] == "3"
        assert resp.headers["X-RateLimit-Remaining"] == str(2 - i)
    resp = client.get("/api/v1/user/credits", headers=auth(token))
    body = assert_error(resp, 429, "rate_limited")
    assert body["error"]["limit"] == 3 and resp.headers["X-RateLimit-Limit"] == "3"
    assert resp.headers["Retry-After"] == resp.headers["X-RateLimit-Reset"]
    url = images.add("own-limit.png", png(), "image/png")
    assert_error(post_remove(client, token, input_image=url), 429, "rate_limited")
    assert_no_job(rt, user)
    assert_balance(rt, user, 3)
    # Another user, same gateway: the deployment's default.
    resp = client.get("/api/v1/user/credits", headers=auth(get_token(client, other["api_key"])))
    assert resp.status_code == 200 and resp.headers["X-RateLimit-Limit"] == "600"
    # Back to the default: the window's count (5, refusals included) is kept.
    set_limits(client, write, user["user_id"], rate_limit_per_minute=None)
    resp = client.get("/api/v1/user/credits", headers=auth(token))
    assert resp.status_code == 200
    assert resp.headers["X-RateLimit-Limit"] == "600"
    assert resp.headers["X-RateLimit-Remaining"] == str(600 - 6)


def test_own_limit_above_a_low_default_and_zero_for_none(make_app, rt, write):
    client = make_app(rate_limit_per_minute=2).test_client()
    raised, unlimited = make_user(rt), make_user(rt)
    set_limits(client, write, raised["user_id"], rate_limit_per_minute=10)
    set_limits(client, write, unlimited["user_id"], rate_limit_per_minute=0)
    raised_token = get_token(client, raised["api_key"])
    unlimited_token = get_token(client, unlimited["api_key"])
    for i in range(5):
        resp = client.get("/api/v1/user/credits", headers=auth(raised_token))
        assert resp.status_code == 200 and resp.headers["X-RateLimit-Limit"] == "10"
        assert resp.headers["X-RateLimit-Remaining"] == str(9 - i)
        resp = client.get("/api/v1/user/credits", headers=auth(unlimited_token))
        assert resp.status_code == 200 and "X-RateLimit-Limit" not in resp.headers


def test_removebg_api_reports_the_users_own_limit(rt, client, write):
    user = make_user(rt, credits=1)
    set_limits(client, write, user["user_id"], rate_limit_per_minute=1)
    key = {"X-Api-Key": user["api_key"]}
    first = client.get("/v1.0/account", headers=key)
    assert first.status_code == 200 and first.headers["X-RateLimit-Limit"] == "1"
    assert first.headers["X-RateLimit-Remaining"] == "0"
    resp = client.get("/v1.0/account", headers=key)
    assert resp.status_code == 429
    assert resp.get_json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert resp.headers["X-RateLimit-Limit"] == "1"
    assert int(resp.headers["X-RateLimit-Reset"]) > time.time()  # remove.bg's: a Unix time


# -- requests in flight -------------------------------------------------------------------------
def test_third_concurrent_request_is_429_until_one_finishes(rt, settings, client, write,
                                                            images, worker):
    user = make_user(rt, credits=5)
    uid = user["user_id"]
    set_limits(client, write, uid, max_concurrent=2)
    token = get_token(client, user["api_key"])
    url = images.add(f"inflight-{uuid.uuid4().hex[:6]}.png", png(), "image/png")
    jobs_queue = queue_for(settings.queue_name, settings.model_name)
    answers: queue.Queue = queue.Queue()

    def post() -> None:
        answers.put(post_remove(client.application.test_client(), token, input_image=url))

    threads = [threading.Thread(target=post) for _ in range(2)]
    with consumer_paused(rt, jobs_queue):
        for thread in threads:
            thread.start()
        wait_until(lambda: rt.redis.llen(jobs_queue) == 2, 30, "two jobs queued")
        assert concurrency.in_flight(rt.redis, uid) == 2
        resp = post_remove(client, token, input_image=url)
        body = assert_error(resp, 429, "concurrency_limited")
        assert body["error"]["limit"] == 2 and resp.headers["Retry-After"] == "1"
        assert resp.headers["X-RateLimit-Limit"] == "600"  # the rate limit's own, still sent
        assert len(rt.db.all("recent_jobs", user_id=uid, limit=10)) == 2  # no third job
        assert rt.credits.balance(uid) == 3  # two reserved, nothing for the refusal
    first = answers.get(timeout=120)
    assert first.status_code == 200, first.get_json()
    assert concurrency.in_flight(rt.redis, uid) <= 1  # its slot went back as it answered
    resp = post_remove(client, token, input_image=url)
    assert resp.status_code == 200, resp.get_json()
    for thread in threads:
        thread.join(120)
    assert answers.get_nowait().status_code == 200
    assert slots(rt, uid) == 0
    assert_balance(rt, user, 2)  # three images, each charged once; the 429 nothing


def test_a_slot_goes_back_on_an_error_and_on_a_504(make_app, rt, client, write, images):
    broke = make_user(rt, credits=0)
    set_limits(client, write, broke["user_id"], max_concurrent=1)
    token = get_token(client, broke["api_key"])
    url = images.add("inflight-402.png", png(), "image/png")
    # Refused inside the slot (no credit): the slot is free for the next one, which is refused
    # the same way rather than 429.
    for _ in range(2):
        assert_error(post_remove(client, token, input_image=url), 402, "insufficient_credits")
    assert slots(rt, broke["user_id"]) == 0
    # A 504: the job waits on a queue nobody consumes past the request timeout.
    nobody = f"segment-nobody-{uuid.uuid4().hex[:6]}"
    slow = make_app(queue_name=nobody, request_timeout_seconds=0.5).test_client()
    user = make_user(rt, credits=2)
    set_limits(client, write, user["user_id"], max_concurrent=1)
    token = get_token(slow, user["api_key"])
    try:
        for _ in range(2):  # the second is admitted: the first's 504 gave its slot back
            assert_error(post_remove(slow, token, input_image=url), 504, "timeout")
        assert slots(rt, user["user_id"]) == 0
    finally:
        rt.redis.delete(queue_for(nobody, rt.settings.model_name))
        for job in rt.db.all("recent_jobs", user_id=user["user_id"], limit=5):
            rt.credits.refund(job["id"], "timeout", "test cleanup")


def test_slots_count_across_gateways_and_a_crashed_ones_expire(rt, client, write, images):
    """Another gateway's live slot counts; a dead gateway's expired slot does not."""
    user = make_user(rt, credits=0)
    uid = user["user_id"]
    set_limits(client, write, uid, max_concurrent=1)
    key = {"X-Api-Key": user["api_key"]}
    url = images.add("inflight-rb.png", png(), "image/png")
    now_ms = int(time.time() * 1000)
    rt.redis.zadd(concurrency.slots_key(uid), {"other-gateway": now_ms + 60_000})
    resp = client.post("/v1.0/removebg", data={"image_url": url}, headers=key)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert resp.get_json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert "in flight" in resp.get_json()["errors"][0]["detail"]
    assert_no_job(rt, user)
    # The same slot, expired (its gateway died and never gave it back): dropped, admitted.
    rt.redis.zadd(concurrency.slots_key(uid), {"other-gateway": now_ms - 1})
    resp = client.post("/v1.0/removebg", data={"image_url": url}, headers=key)
    assert resp.status_code == 402  # past the slot check, refused at the reservation
    assert slots(rt, uid) == 0


def test_a_client_that_disconnects_gives_its_slot_back(stack_env, services, rt, client, write,
                                                        images):
    """Through gunicorn: the client hangs up while its job waits; the slot is given back when
    the request ends (by its 504 at the latest), not left to expire."""
    nobody = f"segment-nobody-{uuid.uuid4().hex[:6]}"
    timeout_s = 2.0
    port = free_port()
    managed = start_gateway({**stack_env, "QUEUE_NAME": nobody,
                             "REQUEST_TIMEOUT_SECONDS": str(timeout_s)}, port, services.log_dir)
    user = make_user(rt, credits=1)
    uid = user["user_id"]
    set_limits(client, write, uid, max_concurrent=1)
    token = get_token(client, user["api_key"])
    url = images.add("inflight-hangup.png", png(), "image/png")
    body = f'{{"input_image": "{url}"}}'.encode()
    try:
        wait_http_ok(f"http://127.0.0.1:{port}/readyz", 60, managed.proc)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"POST {ENDPOINT} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            wait_until(lambda: slots(rt, uid) == 1, 30, "the request holds its slot")
        # Hung up. Well before the slot's own expiry (timeout + SLOT_GRACE_SECONDS):
        wait_until(lambda: slots(rt, uid) == 0, timeout_s + concurrency.SLOT_GRACE_SECONDS / 2,
                   "the slot given back")
    finally:
        managed.stop()
        rt.redis.delete(queue_for(nobody, rt.settings.model_name))
        for job in rt.db.all("recent_jobs", user_id=uid, limit=5):
            rt.credits.refund(job["id"], "timeout", "test cleanup")
