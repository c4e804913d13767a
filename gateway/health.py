"""Liveness and readiness: /healthz (process up) and /readyz (every dependency answers), and
the same readiness as Prometheus gauges on /metrics, so alerts see what the probe sees."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gateway.context import runtime
from gateway.contract import Answer, Routes
from gateway.response_models import Health, Readiness
from shared.runtime import Runtime
from shared.tasks import HEARTBEAT_PREFIX

routes = Routes("health", __name__, tag="health")
bp = routes.bp
log = logging.getLogger("gateway.health")
COMPONENTS = ("redis", "postgres", "s3", "workers")
# A scrape must answer within Prometheus' timeout (10 s by default) even when a dependency
# hangs: whatever has not answered by then counts as down.
SCRAPE_CHECK_SECONDS = 4.0


def check(rt: Runtime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Each component's state ({"ok": bool, "error"?}) and the live workers' heartbeats."""
    components: dict[str, Any] = {}
    workers: list[dict[str, Any]] = []

    def probe(name: str, fn: Any) -> None:
        try:
            fn()
            components[name] = {"ok": True}
        except Exception as exc:  # any failure means "not ready", whatever its type
            components[name] = {"ok": False, "error": type(exc).__name__}

    probe("redis", rt.redis.ping)
    probe("postgres", rt.db.ping)
    probe("s3", rt.storage.ping)

    def live_workers() -> None:
        # Workers refresh a TTL'd heartbeat key; an expired key is a dead worker.
        for key in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100):
            raw = rt.redis.get(key)
            if raw:
                workers.append(json.loads(raw))
        if not workers:
            raise LookupError("no live worker")

    if components["redis"]["ok"]:
        probe("workers", live_workers)
    else:
        components["workers"] = {"ok": False, "error": "redis down"}
    components["workers"]["count"] = len(workers)
    return components, workers


@routes.get("/healthz", answer=Health)
def healthz() -> Health:
    """Liveness: the process is up (no dependency is touched)"""
    return Health(status="ok")


@routes.get("/readyz", answer=[
    Answer(Readiness, description="Ready."),
    Answer(Readiness, status=503, description="Not ready: `down` names what is down.")])
def readyz() -> tuple[Readiness, int]:
    """Readiness: Redis, PostgreSQL, S3 and at least one worker answer"""
    rt = runtime()
    components, workers = check(rt)
    ready = all(c["ok"] for c in components.values())
    # Live workers per model this gateway serves (0: requests for it wait or answer 503).
    models = {name: sum(1 for w in workers if w.get("model") == name)
              for name in rt.settings.served_models}
    body = Readiness(status="ready" if ready else "unavailable",
                     down=[name for name, c in components.items() if not c["ok"]],
                     components=components, workers=workers, models=models,
                     default_model=rt.settings.model_name)
    return body, 200 if ready else 503


class ReadinessCollector(Collector):
    """At scrape time: bgremove_dependency_up{component}, bgremove_workers_live{queue} (every
    routed queue, 0 when none consumes it) and bgremove_worker_models{queue,model,provider}."""

    def __init__(self, rt: Runtime, queues: list[str]) -> None:
        self.rt = rt
        self.queues = queues

    def collect(self) -> Iterator[Metric]:
        pool = ThreadPoolExecutor(1, thread_name_prefix="readiness")
        try:
            components, workers = pool.submit(check, self.rt).result(SCRAPE_CHECK_SECONDS)
        except FutureTimeout:
            log.warning("readiness check timed out during a scrape")
            components, workers = {}, []
        finally:
            pool.shutdown(wait=False)  # a hung check finishes (or not) on its own thread
        up = GaugeMetricFamily("bgremove_dependency_up", "1 while the component answers the "
                               "gateway (as /readyz sees it), else 0.", labels=["component"])
        for name in COMPONENTS:
            up.add_metric([name], 1.0 if components.get(name, {}).get("ok") else 0.0)
        yield up
        per_queue = Counter({queue: 0 for queue in self.queues})
        models: Counter[tuple[str, str, str]] = Counter()
        for beat in workers:
            queue = str(beat.get("queue", ""))
            per_queue[queue] += 1
            providers = beat.get("providers") or [""]
            models[(queue, str(beat.get("model", "")), str(providers[0]))] += 1
        live = GaugeMetricFamily("bgremove_workers_live", "Live worker processes (heartbeats) "
                                 "consuming each queue.", labels=["queue"])
        for queue, count in sorted(per_queue.items()):
            live.add_metric([queue], count)
        yield live
        info = GaugeMetricFamily("bgremove_worker_models", "Live worker processes by queue, "
                                 "model and the execution provider running it.",
                                 labels=["queue", "model", "provider"])
        for labels, count in sorted(models.items()):
            info.add_metric(list(labels), count)
        yield info
