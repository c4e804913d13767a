"""Foreground colour estimation: edges lose the old background's colour, opaque pixels stay."""

from __future__ import annotations

import numpy as np
from PIL import Image

from worker import foreground


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


def test_edge_pixels_get_the_subject_colour_back():
    image, mask, red = _soft_disc()
    out = np.asarray(foreground.estimate(image, mask)).astype(np.float32)
    a = np.asarray(mask)
    edge = (a > 25) & (a < 230)
    before = np.abs(np.asarray(image, np.float32)[edge] - red).mean()
    after = np.abs(out[edge] - red).mean()
    assert after < 0.3 * before, (before, after)


def test_opaque_and_hard_masks_are_left_alone():
    image, mask, _ = _soft_disc()
    out = np.asarray(foreground.estimate(image, mask))
    opaque = np.asarray(mask) == 255
    assert np.array_equal(out[opaque], np.asarray(image)[opaque])
    hard = mask.point(lambda v: 255 if v >= 128 else 0)
    assert foreground.estimate(image, hard) is image
