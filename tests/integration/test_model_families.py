"""Each model family through the whole service, on a synthetic model of its real signature.

The weights of most catalogue models cannot be fetched here, so for every family a small ONNX
model with that family's input and outputs (tests/synthetic_models.py) computes a known map
from the photo's red channel. It is installed through MODELS_FILE by the real installer, served
by a real worker (MODEL_NAME=<it>), and a photo goes through the API: the alpha must be that
map at the photo's size. The worker runs REFINE=none (rembg's 8-bit map, Lanczos-stretched),
so the expected alpha is exact up to float rounding: a wrong normalisation, max-scaling,
output, sigmoid or resize moves it by far more than the tolerance.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gateway import routing
from shared.models import md5_of
from shared.tasks import HEARTBEAT_PREFIX
from tests.stack import get_token, make_user
from tests.synthetic_models import SIDE, SIGNATURES, build, expected_alpha, photo
from tools.stack.processes import REPO, start_worker

POOL = "families"
ENDPOINT = "/api/v1/image/remove-background"


@pytest.fixture(scope="module")
def models_file(tmp_path_factory) -> tuple[Path, Path]:
    """A MODELS_FILE naming one synthetic model per family, and the U2NET_HOME it installs to."""
    root = tmp_path_factory.mktemp("families")
    entries = []
    for family, sig in SIGNATURES.items():
        source = root / f"{family}-source.onnx"
        build(sig, SIDE, source)
        entries.append(f'[models.syn-{family}]\nfamily = "{family}"\nfile = "{source}"\n'
                       f'md5 = "{md5_of(source)}"\nlicence = "proprietary"\n'
                       f"input_size = {SIDE}\n")
    path = root / "models.toml"
    path.write_text("\n".join(entries))
    home = root / "home"
    names = ",".join(f"syn-{f}" for f in SIGNATURES)
    done = subprocess.run([sys.executable, "-m", "tools.models.install"], cwd=REPO,
                          env={**os.environ, "MODELS_FILE": str(path), "MODELS": names,
                               "U2NET_HOME": str(home)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for family in SIGNATURES:
        assert md5_of(home / f"syn-{family}.onnx") == md5_of(root / f"{family}-source.onnx")
    return path, home


def _heartbeats(rt, queue: str) -> list[dict]:
    infos = [json.loads(rt.redis.get(k) or "{}")
             for k in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*")]
    return [i for i in infos if i.get("queue") == queue]


@pytest.mark.parametrize("family", list(SIGNATURES))
def test_family_alpha_through_a_real_worker(family, models_file, stack_env, services, rt,
                                            settings):
    path, home = models_file
    name = f"syn-{family}"
    queue = f"{POOL}.{name}"
    env = {**stack_env, "MODELS_FILE": str(path), "U2NET_HOME": str(home), "MODEL_NAME": name,
           "MODELS": name, "QUEUE_NAME": POOL, "REFINE": "none", "WORKER_METRICS_PORT": "0"}
    managed = start_worker(env, services.log_dir, concurrency=1, name=f"worker-{name}")
    try:
        deadline = time.monotonic() + 120
        while not _heartbeats(rt, queue):
            assert managed.proc.poll() is None, f"the {name} worker exited"
            assert time.monotonic() < deadline, f"the {name} worker did not come up"
            time.sleep(0.2)
        assert _heartbeats(rt, queue)[0].get("precision") in (None, "fp32")

        routing._live_cache.clear()
        from gateway.app import create_app

        app = create_app(dataclasses.replace(settings, models_file=str(path),
                                             models=f"u2netp,{name}", route_queues=POOL))
        client = app.test_client()
        user = make_user(rt, credits=1)
        token = get_token(client, user["api_key"])
        image = photo()
        buf = io.BytesIO()
        image.save(buf, "PNG")
        resp = client.post(ENDPOINT, data={"input_image": (io.BytesIO(buf.getvalue()),
                                                           "photo.png", "image/png"),
                                           "model": name},
                           content_type="multipart/form-data",
                           headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.get_json()
        key = resp.get_json()["data"]["output_image"]
        import requests

        body = requests.get(key, timeout=10).content
        out = Image.open(io.BytesIO(body))
        assert out.size == image.size
        alpha = np.asarray(out.convert("RGBA"))[:, :, 3].astype(int)
        want = expected_alpha(family, image)
        diff = np.abs(alpha - want)
        # Float32 against float64 rounding moves a level or two; a wrong family step moves
        # the map by tens of levels (a missing sigmoid or max-scaling: > 20 in the middle).
        assert diff.max() <= 3, (family, diff.max(), diff.mean())
        assert want.min() == 0 and want.max() == 255  # the photo spans the whole map
        app.extensions["bgr"].close()
    finally:
        managed.stop(timeout=30)
        for key in rt.redis.scan_iter(match=f"{HEARTBEAT_PREFIX}*"):
            if json.loads(rt.redis.get(key) or "{}").get("queue") == queue:
                rt.redis.delete(key)
