"""The model step on the real weights: rembg parity, refinement, the registry's pins."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.config import Settings
from shared.models import MODELS
from worker import segment, sessions
from worker.decode import upright_rgb
from worker.inference import Segmenter
from worker.render import composite
from worker.sessions import ModelUnavailable, load_segmenter

MODEL_DIR = Path(__file__).resolve().parents[2] / ".models"


def _save(img: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()



@pytest.fixture(scope="module")
def u2netp_segmenter() -> Segmenter:
    if not (MODEL_DIR / "u2netp.onnx").is_file():
        pytest.fail(f"{MODEL_DIR}/u2netp.onnx is missing: run `make setup`")
    # fp32: rembg's weights and arithmetic, which the tests below compare against.
    settings = Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(MODEL_DIR),
                                  "MODEL_NAME": "u2netp", "ORT_INTRA_OP_THREADS": "1",
                                  "MODEL_PRECISION": "fp32"})
    return load_segmenter(settings, "u2netp")


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    from skimage import data as skdata

    return upright_rgb(_save(Image.fromarray(skdata.astronaut()), "PNG"), 10_000_000)


@pytest.mark.timeout(120)
def test_segment_without_refinement_matches_rembg_remove(u2netp_segmenter, astronaut) -> None:
    import rembg

    old = os.environ.get("U2NET_HOME")
    os.environ["U2NET_HOME"] = str(MODEL_DIR)
    try:
        reference = rembg.remove(astronaut, session=rembg.new_session("u2netp"))
    finally:
        os.environ.pop("U2NET_HOME") if old is None else os.environ.update(U2NET_HOME=old)
    mask = segment.mask(astronaut, u2netp_segmenter, "none")
    assert mask.mode == "L" and mask.size == astronaut.size
    alpha = np.asarray(mask).astype(int)
    assert alpha.max() > 200 and alpha.min() < 50  # a real mask, not a constant
    ref_alpha = np.asarray(reference)[:, :, 3].astype(int)
    assert np.abs(alpha - ref_alpha).max() <= 1
    out = composite(astronaut, mask, None, None, None, "png")
    assert np.array_equal(np.asarray(out)[:, :, 3], np.asarray(mask))


@pytest.mark.timeout(120)
def test_guided_refinement_keeps_the_subject_and_moves_edges(u2netp_segmenter,
                                                             astronaut) -> None:
    plain = np.asarray(segment.mask(astronaut, u2netp_segmenter, "none")).astype(int)
    refined = np.asarray(segment.mask(astronaut, u2netp_segmenter, "guided")).astype(int)
    flipped = np.asarray(segment.mask(astronaut, u2netp_segmenter, "guided", flip=True)).astype(int)
    assert refined.shape == plain.shape == flipped.shape
    # Same subject (foregrounds agree almost everywhere) but not the same edges.
    agree = ((refined >= 128) == (plain >= 128)).mean()
    assert agree > 0.97, agree
    assert np.abs(refined - plain).max() > 20
    assert not np.array_equal(flipped, refined)


def test_every_default_model_is_installed_with_its_pinned_hash() -> None:
    from shared.models import DEFAULT_INSTALL, md5_of, parse_names

    for name in parse_names(DEFAULT_INSTALL):
        spec = MODELS[name]
        assert md5_of(MODEL_DIR / spec.filename) == spec.md5, name


@pytest.mark.timeout(120)
def test_every_default_model_segments_the_photo(astronaut) -> None:
    from shared.models import DEFAULT_INSTALL, parse_names

    settings = Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(MODEL_DIR)})
    for name in parse_names(DEFAULT_INSTALL):
        alpha = np.asarray(segment.mask(astronaut, load_segmenter(settings, name)))
        assert alpha.shape == (512, 512)
        assert alpha.max() > 200 and alpha.min() < 50, name


def test_weights_with_another_hash_are_refused(tmp_path) -> None:
    served = MODELS["u2netp"].file_for("fp32")[0]  # the derived serving file (make models)
    altered = bytearray((MODEL_DIR / served).read_bytes())
    altered[-1] ^= 0xFF
    (tmp_path / served).write_bytes(bytes(altered))
    settings = Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(tmp_path),
                                  "MODEL_NAME": "u2netp", "MODEL_PRECISION": "fp32"})
    with pytest.raises(ModelUnavailable, match="not the pinned"):
        load_segmenter(settings, "u2netp")


def test_missing_weights_are_refused_with_the_fix(tmp_path) -> None:
    settings = Settings.from_env({"APP_ENV": "development", "U2NET_HOME": str(tmp_path),
                                  "MODEL_NAME": "u2net"})
    with pytest.raises(ModelUnavailable, match="make setup"):
        sessions.check_startup(settings)
    # Right name, wrong file.
    shutil.copy(MODEL_DIR / "u2netp-fp32.onnx", tmp_path / MODELS["u2net"].file_for("fp32")[0])
    with pytest.raises(ModelUnavailable, match="md5"):
        sessions.check_startup(dataclasses.replace(settings))
