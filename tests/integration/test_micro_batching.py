"""A micro-batching worker (threads pool, MICRO_BATCH_SIZE=4) answers what the plain one does."""

from __future__ import annotations

import dataclasses
import io
import json
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
from PIL import Image

from gateway import routing
from shared.tasks import HEARTBEAT_PREFIX
from tests.stack import get_token, make_user

POOL = "mbatch"  # its own pool, so that only the batching worker takes these jobs


@pytest.fixture(scope="module")
def batching_worker(stack_env, services, rt):
    from tools.stack.processes import start_worker

    env = {**stack_env, "QUEUE_NAME": POOL, "WORKER_POOL": "threads", "MICRO_BATCH_SIZE": "4",
           "MICRO_BATCH_WAIT_MS": "300", "WORKER_METRICS_PORT": "0"}
    managed = start_worker(env, services.log_dir, concurrency=4, name="worker-mbatch")

    def mine() -> list[dict]:
        infos = [json.loads(rt.redis.get(k) or "{}")
                 for k in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*")]
        return [i for i in infos if i.get("queue") == f"{POOL}.u2netp"]

    deadline = time.monotonic() + 180
    try:
        while not mine():
            assert managed.proc.poll() is None, "the micro-batching worker exited"
            assert time.monotonic() < deadline, "the micro-batching worker did not come up"
            time.sleep(0.2)
        yield mine()[0]
    finally:
        managed.stop(timeout=30)
        for key in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*"):
            if json.loads(rt.redis.get(key) or "{}").get("queue") == f"{POOL}.u2netp":
                rt.redis.delete(key)


def _photos(images) -> list[str]:
    from skimage import data as skdata

    urls = []
    for i, pixels in enumerate((skdata.astronaut(), skdata.coffee(), skdata.chelsea(),
                                skdata.rocket())):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "JPEG", quality=90)
        urls.append(images.add(f"mb{i}.jpg", buf.getvalue()))
    return urls


def _alphas(settings, rt, urls: list[str], route: str) -> list[np.ndarray]:
    from gateway.app import create_app

    routing._live_cache.clear()
    app = create_app(dataclasses.replace(settings, route_queues=route))
    client = app.test_client()
    user = make_user(rt, credits=len(urls))
    headers = {"Authorization": f"Bearer {get_token(client, user['api_key'])}"}

    def one(url: str) -> np.ndarray:
        resp = client.post("/api/v1/image/remove-background", json={"input_image": url},
                           headers=headers)
        assert resp.status_code == 200, resp.get_json()
        body = requests.get(resp.get_json()["data"]["output_image"], timeout=10).content
        return np.asarray(Image.open(io.BytesIO(body)))[:, :, 3]

    try:
        with ThreadPoolExecutor(len(urls)) as pool:  # all at once: they meet in one batch
            return list(pool.map(one, urls))
    finally:
        app.extensions["bgr"].close()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_micro_batching_worker_returns_the_plain_workers_images(settings, rt, images, worker,
                                                                batching_worker):
    assert batching_worker["micro_batch_size"] == 4
    urls = _photos(images)
    plain = _alphas(settings, rt, urls, "segment")
    batched = _alphas(settings, rt, urls, POOL)
    for want, got in zip(plain, batched, strict=True):
        assert np.array_equal(want, got)
