"""worker/refine.py's compiled refinement gives the numpy reference's alpha, within 1 of 255."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.reference import refine_numpy
from worker import refine


def _blob(side: int = 320) -> np.ndarray:
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    d2 = (x - side / 2) ** 2 + (y - 0.45 * side) ** 2 - (0.28 * side) ** 2
    return (1.0 / (1.0 + np.exp(d2 / 800.0))).astype(np.float32)


@pytest.mark.parametrize("size", [(512, 512), (700, 333), (1024, 768), (2000, 1500)])
def test_compiled_refinement_matches_the_numpy_one(size: tuple[int, int]) -> None:
    from skimage import data as skdata

    photo = Image.fromarray(skdata.astronaut()).resize(size, Image.Resampling.BILINEAR)
    want = refine_numpy.to_uint8(refine_numpy.refine(photo, _blob())).astype(int)
    got = refine.guided_alpha(photo, _blob())
    assert got.dtype == np.uint8 and got.shape == (size[1], size[0])
    diff = np.abs(got.astype(int) - want)
    assert diff.max() <= 1 and diff.mean() < 1e-3, (diff.max(), diff.mean())


def test_a_tiny_or_grey_photo_is_refined_too() -> None:
    grey = Image.new("L", (5, 3), 128)
    out = refine.guided_alpha(grey, _blob(8))
    assert out.shape == (3, 5)
