"""Queue routing: preference order, live workers first, spill-over at the bound, 503 when full."""

from __future__ import annotations

import dataclasses
import json

import pytest

from gateway import routing
from shared.errors import Overloaded
from shared.runtime import Runtime
from shared.tasks import HEARTBEAT_PREFIX
from tests.reliability.test_faults import small_jpeg
from tests.stack import get_token, make_user


@pytest.fixture()
def route_rt(settings):
    rt = Runtime(dataclasses.replace(settings, route_queues="q-gpu, q-cpu", queue_max_depth=2))
    rt.redis.delete("q-gpu", "q-cpu")
    routing._live_cache.clear()
    yield rt
    rt.redis.delete("q-gpu", "q-cpu", f"{HEARTBEAT_PREFIX}fake:1")
    rt.close()


def test_first_open_queue_when_no_worker_is_live(route_rt):
    assert routing.route_queues(route_rt) == ["q-gpu", "q-cpu"]
    assert routing.pick_queue(route_rt) == "q-gpu"  # e.g. a GPU pool scaled to zero
    route_rt.redis.rpush("q-gpu", "x", "x")
    assert routing.pick_queue(route_rt) == "q-cpu"  # spill-over at the bound
    route_rt.redis.rpush("q-cpu", "x", "x")
    with pytest.raises(Overloaded) as info:
        routing.pick_queue(route_rt)
    assert info.value.headers["Retry-After"] == "5"


def test_a_queue_with_a_live_worker_is_preferred(route_rt):
    route_rt.redis.set(f"{HEARTBEAT_PREFIX}fake:1", json.dumps({"queue": "q-cpu"}), ex=30)
    assert routing.pick_queue(route_rt) == "q-cpu"
    route_rt.redis.rpush("q-cpu", "x", "x")
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
    assert rt.redis.llen("nobody-here") == 0
    app.extensions["bgr"].close()
