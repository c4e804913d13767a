"""200 concurrent clients for 60 s against one worker: every request ends, the books balance."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.reliability.conftest import PrivateStack
from tests.reliability.test_faults import assert_books_balance, small_jpeg
from tests.stack import make_user

CLIENTS = 200
SECONDS = 60
REQUEST_TIMEOUT = 10.0


@pytest.fixture(scope="module")
def loaded_stack():
    stack = PrivateStack(REQUEST_TIMEOUT_SECONDS=str(REQUEST_TIMEOUT), QUEUE_MAX_DEPTH="20",
                         RATE_LIMIT_PER_MINUTE="0").start()
    try:
        # 2 gevent processes: every client's request waits as a greenlet.
        stack.url = stack.start_gateway(GUNICORN_WORKERS="2")
        yield stack
    finally:
        stack.stop()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_200_clients_for_60_seconds(loaded_stack, images):
    stack = loaded_stack
    url = images.add("load.jpg", small_jpeg(20))
    granted = 100_000
    u = make_user(stack.rt, credits=granted)
    token = requests.post(f"{stack.url}/api/token", json={"key": u["api_key"]},
                          timeout=10).json()["access_token"]
    outcomes: list[tuple[int, float]] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + SECONDS

    def client() -> None:
        session = requests.Session()
        while time.monotonic() < stop_at:
            t0 = time.monotonic()
            try:
                resp = session.post(f"{stack.url}/api/v1/image/remove-background",
                                    json={"input_image": url},
                                    headers={"Authorization": f"Bearer {token}"},
                                    timeout=REQUEST_TIMEOUT + 20)
                status = resp.status_code
            except requests.RequestException as exc:
                status = f"client error {type(exc).__name__}"
            with lock:
                outcomes.append((status, time.monotonic() - t0))
            if status == 503:
                time.sleep(1.0)  # a polite client backs off (Retry-After says 5 s)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + REQUEST_TIMEOUT + 60)
    assert not any(t.is_alive() for t in threads), "a client never got an answer"

    statuses = {}
    for status, _ in outcomes:
        statuses[status] = statuses.get(status, 0) + 1
    assert set(statuses) <= {200, 503, 504}, statuses
    assert statuses.get(200, 0) > 0, statuses
    slowest = max(took for _, took in outcomes)
    assert slowest < REQUEST_TIMEOUT + 5, (slowest, statuses)

    # Let the queue drain: jobs that answered 504 still finish (and are charged) later. How
    # long that takes depends on this CPU, so the bound comes from the throughput the stack
    # showed during the load: the drain must keep making progress at a fraction of it.
    def open_jobs() -> int:
        return sum(j["status"] in ("queued", "running")
                   for j in stack.rt.db.all("recent_jobs", user_id=u["user_id"], limit=100_000))

    done = sum(1 for status, _ in outcomes if status == 200)
    seconds_per_job = SECONDS / max(done, 1)
    patience = max(30.0, 10 * seconds_per_job)  # a job in hand, retried once, with margin
    remaining, last_progress = open_jobs(), time.monotonic()
    while remaining:
        time.sleep(1)
        now_open = open_jobs()
        if now_open < remaining:
            remaining, last_progress = now_open, time.monotonic()
        assert time.monotonic() - last_progress < patience, (
            f"{remaining} jobs still open, none finished for {patience:.0f} s (the load ran "
            f"{seconds_per_job:.2f} s per job)")
    assert_books_balance(stack.rt, u["user_id"], granted)

    succeeded = {str(j["id"]) for j in stack.rt.db.all("recent_jobs", user_id=u["user_id"],
                                                        limit=100_000)
                 if j["status"] == "succeeded"}
    objects = {key.split("/")[-1].split(".")[0] for key in stack.rt.storage.list_keys()}
    assert objects == succeeded  # no output without a committed job, none missing
    print(f"\nload: {statuses}, slowest {slowest:.1f} s, {len(succeeded)} images")
