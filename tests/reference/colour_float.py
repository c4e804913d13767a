"""A matrix/TRC profile's pixels converted to sRGB in float64: the reference of the 16-bit path.

worker/colour.py converts a 16-bit photo through LittleCMS; here the same conversion is written
out (the profile's curves, its colorant matrix to the D50 connection space, sRGB's inverse
matrix and curve), so that tests/unit/test_depth16.py and the colour integration tests can hold
the pipeline's pixels to it within one level of 255.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import ImageCms

from tools import icc

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def srgb_decode(v: np.ndarray) -> np.ndarray:
    """sRGB's (and Display P3's) transfer curve: encoded 0..1 -> linear."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)


def _matrix(profile: ImageCms.ImageCmsProfile) -> np.ndarray:
    p = profile.profile
    return np.array([p.red_colorant[0], p.green_colorant[0], p.blue_colorant[0]]).T


def to_srgb(wide: np.ndarray, profile: bytes,
            decode: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """16-bit pixels in profile's space -> sRGB as float64 0..255, clipped to sRGB's gamut."""
    xyz = decode(wide / 65535.0) @ _matrix(icc.read(profile)).T
    srgb = np.clip(xyz @ np.linalg.inv(_matrix(_SRGB)).T, 0, 1)
    return srgb_encode(srgb) * 255


def adobe_to_srgb(wide: np.ndarray) -> np.ndarray:
    """tools/icc.py's Adobe-RGB-like pixels (16-bit) in sRGB, float64 0..255."""
    return to_srgb(wide, icc.adobe_rgb(), lambda v: v ** icc.ADOBE_GAMMA)
