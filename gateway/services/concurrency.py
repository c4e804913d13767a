"""Image requests in flight per user, across every gateway: a Redis sorted set of slots.

An image request takes a slot before its credit is reserved (gateway/jobs.submit) and gives it
back when it ends, however it ends: its answer, an error, its 504, an exception, the client gone
(a `finally`, which also runs on gevent's GreenletExit). A slot is a random member scored with
the time it expires: the request timeout plus SLOT_GRACE_SECONDS from when it was taken. A
gateway process that dies mid-request never gives its slots back, so every take first drops
the expired members: a crash costs the user those slots for at most that long, never forever.

Past the user's limit (their own, else MAX_CONCURRENT_PER_USER; 0: none) the request is 429
`concurrency_limited` with Retry-After, before anything is reserved or recorded. Slots are
counted even without a limit, so a limit set later counts the requests already in flight, and
operators see the number (`in_flight` in the admin API's user). If Redis is down the check
steps aside like the rate limiter: the reservation then meets Redis and answers 503.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator

import redis as redis_lib

from shared.errors import ConcurrencyLimited
from shared.runtime import Runtime

log = logging.getLogger("gateway.concurrency")

# Beyond the wait itself a slot covers the work before it (storing an upload in S3, sending
# the task); a live request older than the timeout plus this has answered 504 already.
SLOT_GRACE_SECONDS = 30
# A slot frees when a job ends; a job takes about a second (docs/benchmarks.md).
RETRY_AFTER_SECONDS = 1

# Drop expired slots, then take one unless `limit` (> 0) are held: one step, so concurrent
# requests of one user on any number of gateways never exceed the limit. The clock is Redis's
# (TIME), the same for every gateway. KEYS[1] = the user's set; ARGV = limit, member, slot
# lifetime in ms. Returns {1 taken / 0 refused, slots held after}.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = redis.call('ZCARD', KEYS[1])
local limit = tonumber(ARGV[1])
if limit > 0 and held >= limit then
  return {0, held}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, held + 1}
"""


def slots_key(user_id: int) -> str:
    """Redis key of a user's in-flight slots."""
    return f"bgr:inflight:{user_id}"


def in_flight(client: redis_lib.Redis, user_id: int) -> int:
    """How many slots the user holds now (expired ones not counted)."""
    t_s, t_us = client.time()
    return int(client.zcount(slots_key(user_id), f"({t_s * 1000 + t_us // 1000}", "+inf"))


def take(client: redis_lib.Redis, user_id: int, limit: int, member: str,
         lifetime_ms: int) -> tuple[bool, int]:
    """Take a slot for `member` unless the user holds `limit` (RedisError propagates)."""
    script = client.register_script(_TAKE)  # no round trip: EVALSHA, falling back to EVAL
    taken, held = script(keys=[slots_key(user_id)], args=[limit, member, lifetime_ms])
    return bool(taken), int(held)


@contextlib.contextmanager
def slot(rt: Runtime, user_id: int, limit: int) -> Iterator[None]:
    """Hold one of the user's slots for the body of the `with`; 429 when none is free."""
    member = uuid.uuid4().hex
    lifetime_ms = int((rt.settings.request_timeout_seconds + SLOT_GRACE_SECONDS) * 1000)
    try:
        taken, _ = take(rt.redis, user_id, limit, member, lifetime_ms)
    except redis_lib.RedisError:
        log.warning("concurrency limiter unavailable (Redis); request not limited")
        taken = False
    else:
        if not taken:
            err = ConcurrencyLimited(
                f"Too many requests in flight: the limit is {limit} at once; retry when one "
                "of them has finished.", limit=limit, retry_after=RETRY_AFTER_SECONDS)
            err.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            raise err
    try:
        yield
    finally:
        if taken:
            with contextlib.suppress(redis_lib.RedisError):  # else it expires
                rt.redis.zrem(slots_key(user_id), member)
