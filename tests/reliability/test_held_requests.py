"""One gateway process holds far more waiting requests than the 128 threads it used to have.

The worker's consumer is paused (Celery remote control); CLIENTS requests post at once to a
gateway of ONE process. Every one must reach the queue (none left unseen in the socket
backlog) while the process keeps a bounded number of Redis connections; after the consumer
resumes every request is answered and the books balance, nothing charged for the failures.
A client that hangs up mid-wait leaves no waiter behind.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time

import pytest
import requests

from tests.reliability.conftest import PrivateStack
from tests.reliability.test_faults import assert_books_balance, small_jpeg
from tests.stack import make_user
from tools.bench.held import post_json, raise_fd_limit, snapshot, wait_until
from tools.stack.processes import free_port, start_gateway, wait_http_ok

# Sized for a 2-core test machine: over three times the old 128, answered in about a minute.
CLIENTS = 450
BAD_EVERY = 10  # every tenth input URL is missing: that job fails and must be refunded
MAX_REDIS_CONNECTIONS = 10  # the bound, whatever the number waiting
PATH = "/api/v1/image/remove-background"


@pytest.fixture(scope="module")
def held_stack():
    stack = PrivateStack(MODEL_NAME="u2netp", REQUEST_TIMEOUT_SECONDS="300",
                         QUEUE_MAX_DEPTH="5000", RATE_LIMIT_PER_MINUTE="0").start()
    try:
        stack.url = stack.start_gateway(GUNICORN_WORKERS="1")
        stack.port = int(stack.url.rsplit(":", 1)[1])
        yield stack
    finally:
        stack.stop()


def waiting(url: str) -> float:
    """bgremove_requests_waiting from the gateway's /metrics."""
    for line in requests.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("bgremove_requests_waiting "):
            return float(line.split()[1])
    raise AssertionError("bgremove_requests_waiting not exported")


def consumer(stack: PrivateStack, on: bool) -> None:
    control = stack.rt.celery.control
    queue = stack.settings.worker_queue
    replies = (control.add_consumer(queue, reply=True, timeout=10) if on
               else control.cancel_consumer(queue, reply=True, timeout=10))
    assert replies, "the worker did not answer the remote control"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_paused_consumer_one_process_holds_every_request(held_stack, images):
    stack = held_stack
    raise_fd_limit(CLIENTS * 2 + 256)
    good = images.add("held.jpg", small_jpeg(7))
    missing = good.replace("held.jpg", "missing.jpg")
    u = make_user(stack.rt, credits=CLIENTS)
    token = requests.post(f"{stack.url}/api/token", json={"key": u["api_key"]},
                          timeout=10).json()["access_token"]
    queue = stack.settings.worker_queue
    consumer(stack, on=False)
    before = snapshot(stack.gateway.proc.pid, stack.services.redis_port)

    async def scenario() -> tuple[list, bool, dict]:
        calls = [asyncio.create_task(post_json(
            stack.port, PATH, {"input_image": missing if i % BAD_EVERY == 0 else good},
            token, timeout=600)) for i in range(CLIENTS)]
        # Every request is admitted, reserved and enqueued while nothing consumes the queue.
        reached = await asyncio.to_thread(
            wait_until, lambda: stack.rt.redis.llen(queue) >= CLIENTS, 120)
        held = snapshot(stack.gateway.proc.pid, stack.services.redis_port)
        print(f"\nheld {stack.rt.redis.llen(queue)} requests: gateway {before} -> {held}")
        consumer(stack, on=True)
        return await asyncio.gather(*calls), reached, held

    answers, reached, held = asyncio.run(scenario())
    assert reached, f"only {stack.rt.redis.llen(queue)} of {CLIENTS} requests reached the queue"
    assert held["redis_connections"] <= MAX_REDIS_CONNECTIONS, (before, held)
    statuses = [status for status, _ in answers]
    for i, (status, body) in enumerate(answers):
        if i % BAD_EVERY == 0:
            assert status == 502 and body["error"]["code"] == "input_unreachable", (status, body)
        else:
            assert status == 200 and body["success"] is True, (status, body)
    assert len(statuses) == CLIENTS
    assert_books_balance(stack.rt, u["user_id"], CLIENTS)
    assert stack.rt.credits.balance(u["user_id"]) == CLIENTS // BAD_EVERY
    assert wait_until(lambda: waiting(stack.url) == 0, 10)


@pytest.mark.timeout(300)
def test_client_that_hangs_up_mid_wait_leaves_no_waiter(held_stack, images):
    stack = held_stack
    good = images.add("hangup.jpg", small_jpeg(8))
    u = make_user(stack.rt, credits=1)
    token = requests.post(f"{stack.url}/api/token", json={"key": u["api_key"]},
                          timeout=10).json()["access_token"]
    consumer(stack, on=False)
    try:
        body = f'{{"input_image": "{good}"}}'.encode()
        sock = socket.create_connection(("127.0.0.1", stack.port))
        sock.sendall((f"POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                      f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                      ).encode() + body)
        assert wait_until(lambda: waiting(stack.url) == 1, 30), "the request never waited"
        sock.close()  # the client gives up while its job sits in the paused queue
        # The waiter looks at its client each CLIENT_CHECK_SECONDS (1 s), far below this.
        started = time.monotonic()
        assert wait_until(lambda: waiting(stack.url) == 0, 30), "a waiter stayed behind"
        print(f"\nwaiter released {time.monotonic() - started:.1f} s after the hang-up")
    finally:
        consumer(stack, on=True)
    # The job still runs once the consumer is back, and is charged once (like a 504).
    assert wait_until(lambda: stack.rt.credits.balance(u["user_id"]) == 0, 60)
    assert_books_balance(stack.rt, u["user_id"], 1)


@pytest.mark.timeout(300)
def test_graceful_shutdown_lets_waiting_requests_finish(held_stack, images):
    """SIGTERM (a rolling deploy): held requests still get their answers within the grace."""
    stack = held_stack
    port = free_port()
    gw = start_gateway({**stack.env, "GUNICORN_WORKERS": "1"}, port, stack.services.log_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/readyz", 60, gw.proc)
        good = images.add("graceful.jpg", small_jpeg(9))
        u = make_user(stack.rt, credits=20)
        token = requests.post(f"{url}/api/token", json={"key": u["api_key"]},
                              timeout=10).json()["access_token"]
        consumer(stack, on=False)
        resumed = False

        async def scenario() -> list:
            nonlocal resumed
            calls = [asyncio.create_task(post_json(port, PATH, {"input_image": good}, token,
                                                   timeout=120)) for _ in range(20)]
            queue = stack.settings.worker_queue
            assert await asyncio.to_thread(
                wait_until, lambda: stack.rt.redis.llen(queue) >= 20, 60)
            gw.proc.send_signal(signal.SIGTERM)  # stop accepting; finish what is held
            await asyncio.sleep(1)
            consumer(stack, on=True)
            resumed = True
            return await asyncio.gather(*calls)

        try:
            answers = asyncio.run(scenario())
        finally:
            if not resumed:
                consumer(stack, on=True)
        assert [status for status, _ in answers] == [200] * 20, answers
        assert gw.proc.wait(60) == 0  # it exited on its own, within the grace period
        assert_books_balance(stack.rt, u["user_id"], 20)
    finally:
        gw.stop()
