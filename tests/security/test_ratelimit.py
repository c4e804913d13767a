"""Per-user rate limit (RATE_LIMIT_PER_MINUTE, Redis): 429 with the headers, never charged."""

from __future__ import annotations

import dataclasses
import io
import logging
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis as redis_lib
import requests
from PIL import Image

from gateway import ratelimit
from gateway.app import create_app
from tests.security.util import (
    ENDPOINT,
    assert_balance,
    assert_charged_once,
    assert_error,
    assert_no_job,
    auth,
    post_remove,
)
from tests.stack import get_token, make_user

pytestmark = pytest.mark.timeout(60)

LIMIT = 3
CREDITS = 5


def _client(settings, **changes):
    app = create_app(dataclasses.replace(settings, **changes))
    app.config.update(TESTING=True)
    return app


@pytest.fixture()
def limited(settings):
    """A gateway app allowing LIMIT requests per user per minute."""
    app = _client(settings, rate_limit_per_minute=LIMIT)
    yield app.test_client()
    app.extensions["bgr"].close()


def _headers_ok(resp, remaining: int) -> int:
    assert resp.headers["X-RateLimit-Limit"] == str(LIMIT)
    assert resp.headers["X-RateLimit-Remaining"] == str(remaining)
    reset = int(resp.headers["X-RateLimit-Reset"])
    assert 1 <= reset <= 60
    return reset


def test_fourth_request_is_429_and_costs_nothing(limited, rt, images):
    user = make_user(rt, credits=CREDITS)
    token = get_token(limited, user["api_key"])
    # Three requests that fail validation (400): counted, but no worker time spent.
    for i in range(LIMIT):
        resp = post_remove(limited, token, input_image="https://example.com/a.jpg",
                           bg_color="reddish")
        assert_error(resp, 400, "invalid_parameter")
        _headers_ok(resp, LIMIT - 1 - i)
    # The fourth is valid and would be charged: it is refused before any reservation.
    url = images.add("ratelimit.png", b"not reached", "image/png")
    resp = post_remove(limited, token, input_image=url)
    body = assert_error(resp, 429, "rate_limited")
    reset = _headers_ok(resp, 0)
    assert resp.headers["Retry-After"] == str(reset)
    assert body["error"]["limit"] == LIMIT and body["error"]["retry_after"] == reset
    assert_no_job(rt, user)
    assert_balance(rt, user, CREDITS)
    # The other limited routes share the user's window.
    assert_error(limited.get("/api/v1/user/credits", headers=auth(token)), 429, "rate_limited")
    assert_error(limited.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000",
                             headers=auth(token)), 429, "rate_limited")
    # Another user has a window of their own.
    other = make_user(rt, credits=1)
    resp = limited.get("/api/v1/user/credits", headers=auth(get_token(limited, other["api_key"])))
    assert resp.status_code == 200
    _headers_ok(resp, LIMIT - 1)


def test_window_reset_lets_requests_through_again(limited, rt):
    user = make_user(rt, credits=CREDITS)
    token = get_token(limited, user["api_key"])
    for _ in range(LIMIT):
        assert limited.get("/api/v1/user/credits", headers=auth(token)).status_code == 200
    assert limited.get("/api/v1/user/credits", headers=auth(token)).status_code == 429
    # End the window now instead of waiting a minute.
    rt.redis.delete(ratelimit.counter_key(user["user_id"]))
    resp = limited.get("/api/v1/user/credits", headers=auth(token))
    assert resp.status_code == 200 and resp.get_json()["credits"] == CREDITS
    _headers_ok(resp, LIMIT - 1)


def test_allowed_request_is_processed_and_charged_once(limited, rt, images, worker):
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buf, "PNG")
    url = images.add("ratelimit-ok.png", buf.getvalue(), "image/png")
    user = make_user(rt, credits=CREDITS)
    resp = post_remove(limited, get_token(limited, user["api_key"]), input_image=url)
    assert resp.status_code == 200, resp.get_json()
    _headers_ok(resp, LIMIT - 1)
    assert_charged_once(rt, user, CREDITS)


def test_zero_disables_the_limit(settings, rt):
    app = _client(settings, rate_limit_per_minute=0)
    client = app.test_client()
    user = make_user(rt, credits=1)
    token = get_token(client, user["api_key"])
    for _ in range(2 * LIMIT + 5):
        resp = client.get("/api/v1/user/credits", headers=auth(token))
        assert resp.status_code == 200
        assert "X-RateLimit-Limit" not in resp.headers
    assert rt.redis.get(ratelimit.counter_key(user["user_id"])) is None
    app.extensions["bgr"].close()


def test_redis_error_in_the_limiter_fails_open(limited, rt, monkeypatch, caplog):
    def down(*args, **kwargs):
        raise redis_lib.ConnectionError("Redis went away")

    monkeypatch.setattr(ratelimit, "hit", down)
    user = make_user(rt, credits=CREDITS)
    token = get_token(limited, user["api_key"])
    with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
        for _ in range(LIMIT + 2):
            resp = limited.get("/api/v1/user/credits", headers=auth(token))
            assert resp.status_code == 200
            assert "X-RateLimit-Limit" not in resp.headers
    assert any("rate limiter unavailable" in r.getMessage() for r in caplog.records)


def test_gunicorn_gateway_limits_atomically_under_concurrency(gateway_url, rt, settings):
    # The stack's gateway has the default limit; start this user's window close to it.
    limit = settings.rate_limit_per_minute
    user = make_user(rt, credits=CREDITS)
    token = requests.post(f"{gateway_url}/api/token", json={"key": user["api_key"]},
                          timeout=10).json()["access_token"]
    rt.redis.set(ratelimit.counter_key(user["user_id"]), limit - 5, px=50_000)

    def one(_: int) -> requests.Response:
        return requests.get(f"{gateway_url}/api/v1/user/credits",
                            headers=auth(token), timeout=20)

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(one, range(12)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 5 + [429] * 7, codes
    for resp in responses:
        assert resp.headers["X-RateLimit-Limit"] == str(limit)
        assert 1 <= int(resp.headers["X-RateLimit-Reset"]) <= 50
        if resp.status_code == 429:
            assert_error(resp, 429, "rate_limited")
            assert resp.headers["X-RateLimit-Remaining"] == "0"
            assert int(resp.headers["Retry-After"]) == int(resp.headers["X-RateLimit-Reset"])
    assert sorted(int(r.headers["X-RateLimit-Remaining"]) for r in responses
                  if r.status_code == 200) == [0, 1, 2, 3, 4]
    # A remove-background over the limit through the real server: refused, nothing recorded.
    resp = requests.post(f"{gateway_url}{ENDPOINT}", json={"input_image": "https://x.example/a"},
                         headers=auth(token), timeout=20)
    assert_error(resp, 429, "rate_limited")
    assert_no_job(rt, user)
    assert_balance(rt, user, CREDITS)
