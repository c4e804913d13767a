"""Liveness and readiness: /healthz (process up) and /readyz (every dependency answers)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, jsonify

from shared.tasks import HEARTBEAT_PREFIX

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """The process is up (no dependency is touched)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Any:
    """200 when Redis, PostgreSQL, S3 and at least one worker answer; 503 naming what is down."""
    from gateway.app import runtime

    rt = runtime()
    components: dict[str, Any] = {}
    workers: list[dict[str, Any]] = []

    def check(name: str, fn: Any) -> None:
        try:
            fn()
            components[name] = {"ok": True}
        except Exception as exc:  # any failure means "not ready", whatever its type
            components[name] = {"ok": False, "error": type(exc).__name__}

    check("redis", rt.redis.ping)
    check("postgres", rt.db.ping)
    check("s3", rt.storage.ping)

    def live_workers() -> None:
        # Workers refresh a TTL'd heartbeat key; an expired key is a dead worker.
        for key in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*", count=100):
            raw = rt.redis.get(key)
            if raw:
                workers.append(json.loads(raw))
        if not workers:
            raise LookupError("no live worker")

    if components["redis"]["ok"]:
        check("workers", live_workers)
    else:
        components["workers"] = {"ok": False, "error": "redis down"}
    components["workers"]["count"] = len(workers)
    ready = all(c["ok"] for c in components.values())
    # Live workers per model this gateway serves (0: requests for it wait or answer 503).
    models = {name: sum(1 for w in workers if w.get("model") == name)
              for name in rt.settings.served_models}
    body = {"status": "ready" if ready else "unavailable",
            "down": [name for name, c in components.items() if not c["ok"]],
            "components": components, "workers": workers, "models": models,
            "default_model": rt.settings.model_name}
    return jsonify(body), 200 if ready else 503
