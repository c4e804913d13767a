"""Admission: past GATEWAY_MAX_INFLIGHT a gateway process answers 503 overloaded at once.

In each API's own error format, with Retry-After, without touching a credit; probes and
/metrics are never refused; the in-flight gauge and its limit are exported. On real gunicorn:
requests held while a slow input keeps the worker busy fill the limit, the next one is refused
at once, and the held ones are still answered.
"""

from __future__ import annotations

import dataclasses
import threading
import time

import requests

from gateway.app import create_app
from tests.reliability.test_faults import small_jpeg
from tests.stack import make_user
from tools.bench.held import wait_until
from tools.stack.processes import free_port, start_gateway, wait_http_ok


def _gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


def test_full_process_refuses_in_each_api_format(settings, rt):
    app = create_app(dataclasses.replace(settings, gateway_max_inflight=3))
    client = app.test_client()
    u = make_user(rt, credits=5)
    token = client.post("/api/token", json={"key": u["api_key"]}).get_json()["access_token"]
    admission = app.extensions["bgr_admission"]
    admission.held = 3  # three requests in flight elsewhere in this process
    try:
        resp = client.post("/api/v1/image/remove-background", json={"input_image": "x"},
                           headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
        body = resp.get_json()
        assert body["success"] is False and body["error"]["code"] == "overloaded"
        resp = client.post("/v1.0/removebg", data={"image_url": "x"},
                           headers={"X-Api-Key": u["api_key"]})
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
        assert resp.get_json()["errors"][0]["code"] == "overloaded"
        for path in ("/healthz", "/metrics"):  # an operator must see a full gateway
            assert client.get(path).status_code == 200, path
        metrics = client.get("/metrics").get_data(as_text=True)
        assert _gauge(metrics, "bgremove_requests_inflight_limit") >= 3
        assert "bgremove_queue_max_depth" in metrics
    finally:
        admission.held = 0
    assert rt.credits.balance(u["user_id"]) == 5  # nothing reserved by a refusal
    assert client.get("/api/v1/user/credits",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert admission.held == 0  # every admitted request gave its place back


def test_gunicorn_process_refuses_past_its_limit(stack_env, services, rt, images, worker):
    limit = 3
    port = free_port()
    gw = start_gateway({**stack_env, "GUNICORN_WORKERS": "1",
                        "GATEWAY_MAX_INFLIGHT": str(limit)}, port, services.log_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/readyz", 60, gw.proc)
        slow = images.add("admission-slow.jpg", small_jpeg(3), delay=4.0)
        u = make_user(rt, credits=limit + 1)
        token = requests.post(f"{url}/api/token", json={"key": u["api_key"]},
                              timeout=10).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        held: list[int] = []

        def hold() -> None:
            resp = requests.post(f"{url}/api/v1/image/remove-background",
                                 json={"input_image": slow}, headers=auth, timeout=120)
            held.append(resp.status_code)

        threads = [threading.Thread(target=hold) for _ in range(limit)]
        for t in threads:
            t.start()
        assert wait_until(lambda: _gauge(requests.get(f"{url}/metrics", timeout=10).text,
                                         "bgremove_requests_inflight") == limit, 30)
        started = time.monotonic()
        resp = requests.get(f"{url}/api/v1/user/credits", headers=auth, timeout=10)
        refused_in = time.monotonic() - started
        assert resp.status_code == 503 and resp.json()["error"]["code"] == "overloaded"
        assert resp.headers["Retry-After"] == "1"
        for t in threads:
            t.join(120)
        assert held == [200] * limit
        print(f"\nrefused in {refused_in * 1000:.0f} ms while {limit} requests were held")
        assert requests.get(f"{url}/api/v1/user/credits", headers=auth,
                            timeout=10).status_code == 200
    finally:
        gw.stop()
