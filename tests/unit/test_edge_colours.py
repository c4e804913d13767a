"""worker/edge_colours.py: edges lose the old background's colour, opaque pixels stay."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from tests.reference import edge_colours_numpy
from worker import edge_colours

# The numpy reference and the compiled version the worker runs: the same behaviour.
IMPLEMENTATIONS = pytest.mark.parametrize("impl", [edge_colours_numpy, edge_colours],
                                          ids=["numpy", "compiled"])


def _soft_disc(size: int = 200) -> tuple[Image.Image, Image.Image, np.ndarray]:
    """A red disc with a soft edge composited on white: I = a * red + (1 - a) * white."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    r = np.hypot(x - size / 2, y - size / 2)
    alpha = np.clip((60 - r) / 20 + 0.5, 0, 1)  # opaque inside r 50, clear outside r 70
    red, white = np.array([220, 20, 20], np.float32), np.array([255, 255, 255], np.float32)
    img = alpha[..., None] * red + (1 - alpha[..., None]) * white
    image = Image.fromarray(np.rint(img).astype(np.uint8), "RGB")
    mask = Image.fromarray(np.rint(alpha * 255).astype(np.uint8), "L")
    return image, mask, red


@IMPLEMENTATIONS
def test_edge_pixels_get_the_subject_colour_back(impl: ModuleType) -> None:
    image, mask, red = _soft_disc()
    out = np.asarray(impl.estimate(image, mask)).astype(np.float32)
    a = np.asarray(mask)
    edge = (a > 25) & (a < 230)
    before = np.abs(np.asarray(image, np.float32)[edge] - red).mean()
    after = np.abs(out[edge] - red).mean()
    assert after < 0.3 * before, (before, after)


@IMPLEMENTATIONS
def test_opaque_and_hard_masks_are_left_alone(impl: ModuleType) -> None:
    image, mask, _ = _soft_disc()
    out = np.asarray(impl.estimate(image, mask))
    opaque = np.asarray(mask) == 255
    assert np.array_equal(out[opaque], np.asarray(image)[opaque])
    hard = mask.point(lambda v: 255 if v >= 128 else 0)
    assert impl.estimate(image, hard) is image


@pytest.mark.parametrize("size", [(1024, 1024), (700, 333), (333, 700), (2000, 1500), (40, 30)])
def test_the_compiled_estimate_matches_the_numpy_one(size: tuple[int, int]) -> None:
    from skimage import data as skdata

    photo = Image.fromarray(skdata.coffee()).resize(size, Image.Resampling.BILINEAR)
    # A soft-edged blob as the mask: mixed pixels along a long curved edge.
    y, x = np.mgrid[0:size[1], 0:size[0]].astype(np.float32)
    d = np.hypot((x - size[0] / 2) / size[0], (y - size[1] / 2) / size[1])
    mask = Image.fromarray(np.rint(np.clip((0.3 - d) * 12, 0, 1) * 255).astype(np.uint8), "L")
    want = np.asarray(edge_colours_numpy.estimate(photo, mask)).astype(int)
    got = np.asarray(edge_colours.estimate(photo, mask)).astype(int)
    assert got.shape == want.shape == (size[1], size[0], 3)
    diff = np.abs(got - want)
    assert diff.max() <= 1 and diff.mean() < 1e-2, (diff.max(), diff.mean())
    assert (np.asarray(mask) % 255 != 0).sum() > 0  # the case has mixed pixels to correct
