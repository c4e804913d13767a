"""/healthz and /readyz against real services."""

from __future__ import annotations

import dataclasses

from gateway.app import create_app
from tests.stack import wait_for_heartbeat
from tools.stack.processes import free_port


def test_healthz_answers_without_touching_dependencies(settings):
    dead = dataclasses.replace(settings, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    client = create_app(dead).test_client()
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_readyz_200_with_every_component_and_a_worker(client, worker, rt):
    wait_for_heartbeat(rt)  # an earlier test may have flushed Redis (heartbeats included)
    resp = client.get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["down"] == []
    assert set(body["components"]) == {"redis", "postgres", "s3", "workers"}
    assert any(w["model"] == "u2netp" for w in body["workers"])
    assert body["models"]["u2netp"] >= 1 and body["default_model"] == "u2netp"
    assert "CPUExecutionProvider" in body["workers"][0]["providers"]
    # MODEL_PRECISION=auto (the default): the worker says what its self-check chose, and why.
    worker_beat = next(w for w in body["workers"] if w["model"] == "u2netp")
    assert worker_beat["precision"] in ("fp32", "int8")
    assert worker_beat["precision_reason"].startswith(worker_beat["precision"] + ": ")
    reason = worker_beat["precision_reason"]
    assert "agreement" in reason or "mean error" in reason  # the figure it decided on


def test_readyz_503_names_what_is_down(settings, worker):
    broken = dataclasses.replace(
        settings, database_url=f"postgresql://bgr@127.0.0.1:{free_port()}/bgr",
        s3_endpoint=f"127.0.0.1:{free_port()}")
    app = create_app(broken)
    resp = app.test_client().get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 503
    assert set(body["down"]) == {"postgres", "s3"}
    assert body["components"]["redis"]["ok"] is True
    app.extensions["bgr"].close()


def test_unknown_route_and_wrong_method_are_json(client):
    resp = client.get("/nope")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
    resp = client.get("/api/token")
    assert resp.status_code == 405
    assert "POST" in resp.headers["Allow"]
    assert resp.get_json() == {"success": False, "message": "Method not allowed.",
                               "error": {"code": "method_not_allowed"}}


def test_unexpected_exception_is_a_json_500_without_traceback(settings):
    app = create_app(settings)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals")

    resp = app.test_client().get("/boom")
    assert resp.status_code == 500
    assert resp.get_json() == {"success": False, "message": "Internal server error.",
                               "error": {"code": "internal_error"}}
    assert "secret internals" not in resp.get_data(as_text=True)
