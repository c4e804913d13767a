"""Which queue a new job goes to: GPU and CPU workers consume separate queues and scale apart.

ROUTE_QUEUES lists the worker pools in order of preference (e.g. "segment-gpu,segment-cpu");
empty means QUEUE_NAME alone. Each pool has one queue per model ("segment-cpu.u2net"), and a
job for a model only goes to that model's queues; the rules apply per model. While any of
them has a live worker, a job goes to the first live queue below QUEUE_MAX_DEPTH: never to
a queue nobody consumes, where it would only wait for its deadline. When none has a live
worker (every pool scaled to zero), it goes to the first queue below the bound, whose
autoscaler then wakes its workers. All full: 503 + Retry-After.
"""

from __future__ import annotations

import json
import threading
import time

import redis as redis_lib

from shared.errors import DependencyDown, Overloaded
from shared.models import queue_for
from shared.runtime import Runtime
from shared.tasks import HEARTBEAT_PREFIX

LIVE_CACHE_SECONDS = 2.0
_cache_lock = threading.Lock()
_live_cache: dict[int, tuple[float, set[str]]] = {}


def route_pools(rt: Runtime) -> list[str]:
    """The worker pools the gateway may send to, in order of preference."""
    names = [q.strip() for q in rt.settings.route_queues.split(",") if q.strip()]
    return names or [rt.settings.queue_name]


def route_queues(rt: Runtime, model: str | None = None) -> list[str]:
    """The queues for one model (default: every served model), in order of preference."""
    models = [model] if model else rt.settings.served_models
    return [queue_for(pool, name) for name in models for pool in route_pools(rt)]


def live_queues(rt: Runtime) -> set[str]:
    """Queues with at least one live worker (heartbeats), cached briefly per process."""
    now = time.monotonic()
    with _cache_lock:
        cached = _live_cache.get(id(rt))
        if cached and now - cached[0] < LIVE_CACHE_SECONDS:
            return cached[1]
    live = set()
    for key in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100):
        raw = rt.redis.get(key)
        if raw:
            live.add(json.loads(raw).get("queue"))
    with _cache_lock:
        _live_cache[id(rt)] = (now, live)
    return live


def pick_queue(rt: Runtime, model: str | None = None) -> str:
    """The queue for a new job of model; Overloaded when every queue is at its bound."""
    queues = route_queues(rt, model or rt.settings.model_name)
    try:
        depths = [rt.redis.llen(q) for q in queues]
        live = live_queues(rt) if len(queues) > 1 else set(queues)
    except redis_lib.RedisError as exc:
        raise DependencyDown("Redis is unavailable; retry later.") from exc
    open_queues = [q for q, d in zip(queues, depths, strict=True)
                   if d < rt.settings.queue_max_depth]
    if not open_queues:
        err = Overloaded("The queue is full; retry later.", queue_depth=min(depths))
        err.headers = {"Retry-After": "5"}
        raise err
    if not live.intersection(queues):
        return open_queues[0]  # nobody is up: queue it where the autoscaler will look first
    choice = next((q for q in open_queues if q in live), None)
    if choice is None:
        err = Overloaded("Every worker's queue is full; retry later.",
                         queue_depth=min(d for q, d in zip(queues, depths, strict=True)
                                         if q in live))
        err.headers = {"Retry-After": "5"}
        raise err
    return choice
