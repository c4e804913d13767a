"""Micro-batching returns what the one-by-one worker returns, and does batch; providers refuse."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from shared.config import Settings
from worker import segment, sessions
from worker.batching import MicroBatcher
from worker.sessions import ModelUnavailable, load_segmenter

MODEL_DIR = Path(__file__).resolve().parents[2] / ".models"


def _settings(**env: str) -> Settings:
    return Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(MODEL_DIR),
                              "MODEL_NAME": "u2netp", "ORT_INTRA_OP_THREADS": "1", **env})


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    from skimage import data as skdata

    astronaut = Image.fromarray(skdata.astronaut())
    return [astronaut, Image.fromarray(skdata.coffee()), ImageOps.mirror(astronaut),
            Image.fromarray(skdata.chelsea()).resize((640, 480))]


def _concurrently(fn, items: list) -> list:
    """fn over items, each in its own thread, all released together."""
    results: list = [None] * len(items)
    start = threading.Barrier(len(items))

    def run(i: int) -> None:
        start.wait()
        results[i] = fn(items[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(items))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.mark.timeout(240)
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_micro_batched_masks_are_identical_to_one_by_one(photos, precision: str) -> None:
    plain = load_segmenter(_settings(), "u2netp", precision)
    expected = [np.asarray(segment.mask(p, plain)) for p in photos]
    flipped = [np.asarray(segment.mask(p, plain, flip=True)) for p in photos[:2]]
    # A long wait: the four tasks' images meet in one batch (or two) instead of four calls.
    batcher = MicroBatcher(load_segmenter(_settings(), "u2netp", precision), 4, 500)
    got = _concurrently(lambda p: np.asarray(segment.mask(p, batcher)), photos)
    assert batcher.batches_run < len(photos)
    for want, have in zip(expected, got, strict=True):
        assert np.array_equal(want, have)
    got = _concurrently(lambda p: np.asarray(segment.mask(p, batcher, flip=True)), photos[:2])
    for want, have in zip(flipped, got, strict=True):
        assert np.array_equal(want, have)


@pytest.mark.timeout(120)
def test_a_batch_of_one_waits_no_longer_than_the_wait(photos) -> None:
    batcher = MicroBatcher(load_segmenter(_settings(), "u2netp", "int8"), 8, 1)
    assert batcher.probability(photos[0]).shape == (320, 320)
    assert batcher.batches_run == 1


def test_the_worker_segmenter_micro_batches_when_configured(monkeypatch) -> None:
    monkeypatch.setattr(sessions, "_SEGMENTER", None)
    try:
        seg = sessions.get_segmenter(_settings(MICRO_BATCH_SIZE="4", MICRO_BATCH_WAIT_MS="2"))
        assert isinstance(seg, MicroBatcher) and seg.max_batch == 4
        assert sessions.session_info()["micro_batch_size"] == 4
    finally:
        sessions._SEGMENTER = None
        sessions._INFO.clear()


@pytest.mark.parametrize("provider", ["OpenVINOExecutionProvider", "CUDAExecutionProvider",
                                      "TensorrtExecutionProvider"])
def test_a_worker_asked_for_an_absent_provider_refuses_to_start(provider: str) -> None:
    # This machine's onnxruntime is the CPU build: the worker must stop, not fall back.
    settings = _settings(ORT_PROVIDERS=f"{provider},CPUExecutionProvider")
    with pytest.raises(ModelUnavailable, match=f"{provider} is not available"):
        sessions.check_startup(settings)
    with pytest.raises(ModelUnavailable, match=f"{provider} is not available"):
        load_segmenter(settings, "u2netp")
