"""The compiled matrix/TRC pass (worker/matrix_shaper.py) against LittleCMS.

Its pixels must agree with LittleCMS's unoptimised 16-bit conversion (the exact one) within one
level of 255, as close as LittleCMS's own 8-bit transform or closer; a profile it does not
reproduce is left to LittleCMS.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms

from tools import icc
from worker import colour, depth16, matrix_shaper

pytestmark = pytest.mark.unit

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
PROFILES = {"adobe-rgb": icc.adobe_rgb, "display-p3": icc.display_p3}


def exact(profile: bytes):
    return lambda rgb: depth16.to8(colour.wide_to_srgb(rgb.astype(np.uint16) * 257, profile))


@pytest.mark.parametrize("name", list(PROFILES))
def test_within_a_level_of_littlecms_and_closer_than_its_8_bit_transform(name: str) -> None:
    profile = PROFILES[name]()
    fast = matrix_shaper.build(profile, exact(profile))
    assert fast is not None
    pixels = np.random.default_rng(5).integers(0, 256, (256, 256, 3), np.uint8)
    truth = exact(profile)(pixels).astype(np.int16)
    ours = fast.to_srgb(pixels).astype(np.int16)
    assert np.abs(ours - truth).max() <= 1
    transform = ImageCms.buildTransform(icc.read(profile), SRGB, "RGB", "RGB")
    lcms8 = np.asarray(ImageCms.applyTransform(Image.fromarray(pixels), transform), np.int16)
    assert np.abs(ours - truth).mean() <= np.abs(lcms8 - truth).mean()


def test_a_profile_it_does_not_reproduce_is_left_to_littlecms() -> None:
    profile = icc.adobe_rgb()
    assert matrix_shaper.build(profile, lambda rgb: 255 - exact(profile)(rgb)) is None
    assert matrix_shaper.build(icc.cmyk(), exact(icc.adobe_rgb())) is None  # not RGB at all


def test_the_colour_space_uses_it_for_the_models_copy() -> None:
    img = Image.fromarray(np.random.default_rng(6).integers(0, 256, (40, 60, 3), np.uint8))
    img.info["icc_profile"] = icc.display_p3()
    space = colour.space_of(img)
    assert space._fast is not None
    via_lcms = ImageCms.applyTransform(img, space._to_srgb)
    diff = np.asarray(space.to_srgb(img), np.int16) - np.asarray(via_lcms, np.int16)
    assert np.abs(diff).max() <= 1
