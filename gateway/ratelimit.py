"""Per-user request rate limit: a fixed one-minute window counted in Redis by one Lua script.

Each user's limit is their own where an operator set one (admin API / CLI), else
RATE_LIMIT_PER_MINUTE; 0 is no limit (gateway/services/limits.py). It is read with the request's
key or token check, so a change applies from the user's next request; the count of the current
window is kept, so lowering a limit below it refuses at once.

The limit is checked after the token is verified and before the view runs, so a refused
request never reserves a credit nor records a job. Every limited route's response (errors
included) carries X-RateLimit-Limit / -Remaining / -Reset; a refusal is 429 `rate_limited`
with Retry-After. If Redis is down the limiter steps aside (fail open): the request then meets
Redis again when it reserves a credit, and answers 503 there, so nothing is given away.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis as redis_lib
from flask import Flask, g, request
from flask.typing import ResponseReturnValue

from gateway.context import runtime
from gateway.guards import current_limits, current_user_id
from shared.errors import RateLimited

log = logging.getLogger("gateway.ratelimit")

WINDOW_MS = 60_000

# Count this request and report the window's state, atomically: INCR and the expiry are one
# step, so a crash between them cannot leave a counter that never expires.
# KEYS[1] = the user's counter; ARGV[1] = window length in ms. Returns {count, ms left}.
_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if count == 1 or ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""

F = TypeVar("F", bound=Callable[..., Any])


def counter_key(user_id: int) -> str:
    """Redis key of a user's request counter for the current window."""
    return f"bgr:ratelimit:{user_id}"


@dataclass(frozen=True)
class Verdict:
    """One request's place in its window."""

    limit: int
    remaining: int
    reset_seconds: int  # until the window ends (whole seconds, rounded up)
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(self.limit),
                "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": str(self.reset_seconds)}


def hit(client: redis_lib.Redis, user_id: int, limit: int) -> Verdict:
    """Count one request of user_id against limit per minute (RedisError propagates)."""
    script = client.register_script(_HIT)  # no round trip: EVALSHA, falling back to EVAL
    count, ttl_ms = script(keys=[counter_key(user_id)], args=[WINDOW_MS])
    count, ttl_ms = int(count), max(int(ttl_ms), 0)
    return Verdict(limit=limit, remaining=max(limit - count, 0),
                   reset_seconds=max(math.ceil(ttl_ms / 1000), 1), allowed=count <= limit)


def rate_limited(view: F) -> F:
    """Decorate a view (inside @jwt_required) to count its requests per user; 429 when over."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        rt = runtime()
        limit = current_limits().rate_limit_per_minute
        if limit > 0:
            try:
                verdict = hit(rt.redis, current_user_id(), limit)
            except redis_lib.RedisError:
                # Fail open: the limiter must not be the reason a request fails.
                log.warning("rate limiter unavailable (Redis); request not limited")
            else:
                g.ratelimit_headers = verdict.headers()
                if not verdict.allowed:
                    err = RateLimited(f"Too many requests: the limit is {limit} per minute; "
                                      f"retry in {verdict.reset_seconds} s.",
                                      limit=limit, retry_after=verdict.reset_seconds)
                    err.headers = {"Retry-After": str(verdict.reset_seconds)}
                    raise err
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def init_app(app: Flask) -> None:
    """Add the X-RateLimit-* headers to every response of a limited route, errors included."""

    @app.after_request
    def _headers(response: Any) -> ResponseReturnValue:
        headers = dict(g.get("ratelimit_headers") or {})
        if headers and request.path.startswith("/v1.0/"):
            # remove.bg's X-RateLimit-Reset is the Unix time the window ends, not seconds.
            headers["X-RateLimit-Reset"] = str(int(time.time())
                                               + int(headers["X-RateLimit-Reset"]))
        for name, value in headers.items():
            response.headers[name] = value
        return response
