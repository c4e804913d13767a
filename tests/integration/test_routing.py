"""Queue routing: preference order, live workers first, spill-over at the bound, 503 when full."""

from __future__ import annotations

import dataclasses
import io
import json
import time
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import numpy as np
import pytest
import requests
from PIL import Image

from gateway import routing
from shared.errors import Overloaded
from shared.runtime import Runtime
from shared.tasks import HEARTBEAT_PREFIX
from tests.reliability.test_faults import small_jpeg
from tests.stack import get_token, make_user

GPU, CPU = "q-gpu.u2netp", "q-cpu.u2netp"  # the pools' queues for the default model


@pytest.fixture()
def route_rt(settings):
    rt = Runtime(dataclasses.replace(settings, route_queues="q-gpu, q-cpu", queue_max_depth=2))
    rt.redis.delete(GPU, CPU)
    routing._live_cache.clear()
    yield rt
    rt.redis.delete(GPU, CPU, f"{HEARTBEAT_PREFIX}fake:1")
    rt.close()


def test_first_open_queue_when_no_worker_is_live(route_rt):
    assert routing.route_queues(route_rt, "u2netp") == [GPU, CPU]
    # Without a model: every served model's queues (what /metrics reports the depth of).
    assert routing.route_queues(route_rt) == [GPU, CPU, "q-gpu.u2net", "q-cpu.u2net"]
    assert routing.pick_queue(route_rt) == GPU  # e.g. a GPU pool scaled to zero
    route_rt.redis.rpush(GPU, "x", "x")
    assert routing.pick_queue(route_rt) == CPU  # spill-over at the bound
    route_rt.redis.rpush(CPU, "x", "x")
    with pytest.raises(Overloaded) as info:
        routing.pick_queue(route_rt)
    assert info.value.headers["Retry-After"] == "5"


def test_a_queue_with_a_live_worker_is_preferred(route_rt):
    route_rt.redis.set(f"{HEARTBEAT_PREFIX}fake:1", json.dumps({"queue": CPU}), ex=30)
    assert routing.pick_queue(route_rt) == CPU
    # Another model's jobs ignore that worker: its queues have none, the first open one wins.
    assert routing.pick_queue(route_rt, "u2net") == "q-gpu.u2net"
    route_rt.redis.rpush(CPU, "x", "x")
    # The live queue is full: 503, not a queue nobody consumes (q-gpu has room but no worker).
    with pytest.raises(Overloaded):
        routing.pick_queue(route_rt)


def test_jobs_reach_the_live_worker_through_the_api(settings, rt, images, worker):
    from gateway.app import create_app

    routing._live_cache.clear()
    app = create_app(dataclasses.replace(settings, route_queues="nobody-here,segment"))
    client = app.test_client()
    u = make_user(rt, credits=1)
    resp = client.post("/api/v1/image/remove-background",
                       json={"input_image": images.add("route.jpg", small_jpeg(30))},
                       headers={"Authorization": f"Bearer {get_token(client, u['api_key'])}"})
    assert resp.status_code == 200, resp.get_json()
    assert rt.redis.llen("nobody-here.u2netp") == 0
    app.extensions["bgr"].close()


@pytest.fixture(scope="module")
def u2net_worker(stack_env, services, rt):
    """A second real worker, serving u2net on the same pool: two models side by side."""
    from tools.stack.processes import start_worker

    managed = start_worker({**stack_env, "MODEL_NAME": "u2net"}, services.log_dir,
                           name="worker-u2net")
    deadline = time.monotonic() + 180
    try:
        while not any(json.loads(rt.redis.get(k) or "{}").get("model") == "u2net"
                      for k in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*")):
            assert managed.proc.poll() is None, "the u2net worker exited"
            assert time.monotonic() < deadline, "the u2net worker did not come up"
            time.sleep(0.2)
        yield managed
    finally:
        managed.stop(timeout=30)
        # Its heartbeats would outlive it by their TTL and count as live in later tests.
        for key in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*"):
            if json.loads(rt.redis.get(key) or "{}").get("model") == "u2net":
                rt.redis.delete(key)


def test_each_model_is_served_by_its_own_worker(client, rt, images, worker, u2net_worker):
    routing._live_cache.clear()
    u = make_user(rt, credits=5)
    headers = {"Authorization": f"Bearer {get_token(client, u['api_key'])}"}
    url = images.add("models.jpg", small_jpeg(64))
    alphas = {}
    for model in ("u2netp", "u2net"):
        resp = client.post("/api/v1/image/remove-background",
                           json={"input_image": url, "model": model}, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        job_id = PurePosixPath(urlsplit(resp.get_json()["data"]["output_image"]).path).stem
        job = rt.db.one("get_job", job_id=job_id)
        assert job["params"]["model"] == model
        body = requests.get(resp.get_json()["data"]["output_image"], timeout=10).content
        alphas[model] = np.asarray(Image.open(io.BytesIO(body)))[:, :, 3]
    # Two different networks: same size, different masks.
    assert alphas["u2netp"].shape == alphas["u2net"].shape
    assert not np.array_equal(alphas["u2netp"], alphas["u2net"])
    ready = client.get("/readyz").get_json()
    assert ready["models"]["u2netp"] >= 1 and ready["models"]["u2net"] >= 1
    assert rt.credits.balance(u["user_id"]) == 3


def test_an_unknown_model_is_400_naming_the_served_ones(client, rt, images, worker):
    u = make_user(rt, credits=1)
    headers = {"Authorization": f"Bearer {get_token(client, u['api_key'])}"}
    resp = client.post("/api/v1/image/remove-background",
                       json={"input_image": images.add("m.jpg", small_jpeg(8)),
                             "model": "birefnet"}, headers=headers)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"]["code"] == "invalid_parameter" and body["error"]["param"] == "model"
    assert "u2netp, u2net" in body["message"]
    assert rt.credits.balance(u["user_id"]) == 1
