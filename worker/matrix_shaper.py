"""A matrix/TRC profile's 8-bit pixels to sRGB in one compiled pass (the model's copy).

Nearly every photo's profile (Display P3, Adobe RGB, ProPhoto, camera sRGB variants) is three
tone curves and a 3x3 matrix. LittleCMS's 8-bit transform of such a profile costs ~15 ms per
megapixel here (1 MP: ~5 % of a whole job, issue 20's budget), and is off by up to 6 levels of
255 near the edge of sRGB's gamut. This pass does the same sums per pixel: each channel's curve
(a 256-entry table), the matrix to sRGB's linear values, clipped, and sRGB's curve (a table of
65536), in ~3 ms per megapixel. Its curves and matrix are read from LittleCMS itself (ramps of
each channel converted to XYZ), so no profile is parsed here; and it is used for a profile only
once it agrees with LittleCMS's unoptimised 16-bit conversion within one level on a grid of
colours (`build`), else the caller keeps LittleCMS's transform.
"""

from __future__ import annotations

from collections.abc import Callable

import imagecodecs
import numba
import numpy as np

_XYZ = imagecodecs.cms_profile("xyz")
_SRGB = imagecodecs.cms_profile("srgb")
_NO_OPTIMISE = 0x0100  # cmsFLAGS_NOOPTIMIZE
_STEPS = 65535  # the linear value's resolution for sRGB's curve (0.05 of a level near black)


def _encode_table() -> np.ndarray:
    v = np.arange(_STEPS + 1, dtype=np.float64) / _STEPS
    encoded = np.where(v <= 0.0031308, 12.92 * v, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.rint(encoded * 255).astype(np.uint8)


_ENCODE = _encode_table()


class MatrixShaper:
    """One profile's curves (3 x 256, linear) and its matrix into sRGB's linear values."""

    def __init__(self, curves: np.ndarray, matrix: np.ndarray) -> None:
        self.curves = np.ascontiguousarray(curves, np.float32)
        self.matrix = np.ascontiguousarray(matrix, np.float32)

    def to_srgb(self, rgb: np.ndarray) -> np.ndarray:
        """(h, w, 3) uint8 in the profile's space -> the same in sRGB."""
        out = np.empty(rgb.shape, np.uint8)
        _convert(np.ascontiguousarray(rgb), self.curves, self.matrix, _ENCODE, out)
        return out


def _ramps_xyz(icc: bytes) -> np.ndarray:
    """XYZ (D50) of each channel's ramp 0..255 alone: [channel, level, XYZ]."""
    ramps = np.zeros((3, 256, 3), np.uint8)
    for c in range(3):
        ramps[c, :, c] = np.arange(256)
    return imagecodecs.cms_transform(ramps, icc, _XYZ, colorspace="rgb", outcolorspace="xyz",
                                     outdtype=np.float32, flags=_NO_OPTIMISE).astype(np.float64)


def build(icc: bytes, exact: Callable[[np.ndarray], np.ndarray]) -> MatrixShaper | None:
    """The fast pass for icc, or None where it does not match exact (uint8 -> uint8 sRGB)."""
    try:
        source, srgb = _ramps_xyz(icc), _ramps_xyz(_SRGB)
    except (imagecodecs.CmsError, ValueError, TypeError, RuntimeError):
        return None
    columns = source[:, 255, :].T  # each primary at full drive: the matrix's columns
    if not np.all(np.isfinite(columns)) or abs(np.linalg.det(columns)) < 1e-6:
        return None
    # Along its own ramp a channel's XYZ is its column times its curve.
    curves = np.stack([source[c] @ columns[:, c] / (columns[:, c] @ columns[:, c])
                       for c in range(3)])
    fast = MatrixShaper(curves, np.linalg.inv(srgb[:, 255, :].T) @ columns)
    grid = np.stack(np.meshgrid(*[np.arange(0, 256, 15)] * 3, indexing="ij"), -1)
    grid = np.concatenate([grid.reshape(-1, 3), np.repeat(np.arange(256), 3).reshape(-1, 3)])
    grid = grid.astype(np.uint8)[None]
    if np.abs(fast.to_srgb(grid).astype(np.int16) - exact(grid).astype(np.int16)).max() > 1:
        return None  # not three curves and a matrix (a LUT profile): LittleCMS it is
    return fast


@numba.njit(cache=True, nogil=True)
def _convert(rgb: np.ndarray, curves: np.ndarray, matrix: np.ndarray, encode: np.ndarray,
             out: np.ndarray) -> None:  # pragma: no cover - compiled
    h, w, _ = rgb.shape
    top = encode.shape[0] - 1
    for y in range(h):
        for x in range(w):
            r = curves[0, rgb[y, x, 0]]
            g = curves[1, rgb[y, x, 1]]
            b = curves[2, rgb[y, x, 2]]
            for c in range(3):
                v = matrix[c, 0] * r + matrix[c, 1] * g + matrix[c, 2] * b
                v = min(max(v, np.float32(0.0)), np.float32(1.0))
                out[y, x, c] = encode[int(v * top + np.float32(0.5))]


def warm() -> None:
    """Compile (or load from numba's disk cache) the pass before the first photo."""
    MatrixShaper(np.zeros((3, 256)), np.eye(3)).to_srgb(np.zeros((1, 1, 3), np.uint8))
