"""The blur-fusion edge colour estimate in numpy and scipy: the reference of worker/edge_colours.py.

Forte and Pitie, "Approximate Fast Foreground Colour Estimation" (ICIP 2021), as the paper gives
it: two fusion passes of box-filtered foreground and background means on a reduced copy, then
the mixed pixels corrected at full resolution. The worker runs the same steps in compiled loops;
tests/unit/test_edge_colours.py compares the two, within one level of 255.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from worker.edge_colours import fusion_radii
from worker.refine import working_size

_EPS = 1e-5


def _blur(x: np.ndarray, radius: int) -> np.ndarray:
    size = (radius, radius) + (1,) * (x.ndim - 2)
    return ndimage.uniform_filter(x, size=size, mode="nearest")


def _fuse(image: np.ndarray, fg: np.ndarray, bg: np.ndarray, alpha: np.ndarray,
          radius: int) -> tuple[np.ndarray, np.ndarray]:
    """One blur-fusion pass: local means of foreground and background colour."""
    a = alpha[..., None]
    blurred_alpha = _blur(alpha, radius)[..., None]
    blurred_fg = _blur(fg * a, radius) / (blurred_alpha + _EPS)
    blurred_bg = _blur(bg * (1 - a), radius) / ((1 - blurred_alpha) + _EPS)
    return blurred_fg, blurred_bg


def _correct(image: np.ndarray, alpha: np.ndarray, blurred_fg: np.ndarray,
             blurred_bg: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    fg = blurred_fg + a * (image - a * blurred_fg - (1 - a) * blurred_bg)
    return np.clip(fg, 0.0, 1.0)


def _sample(x: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear samples of x [h, w, C] at fractional (rows, cols): [N, C]."""
    return np.stack([ndimage.map_coordinates(x[..., c], (rows, cols), order=1, mode="nearest")
                     for c in range(x.shape[-1])], axis=-1)


def estimate(image: Image.Image, mask: Image.Image, work_side: int = 768) -> Image.Image:
    """The subject's own colour under every pixel, as worker.edge_colours.estimate()."""
    alpha8 = np.asarray(mask)
    soft = (alpha8 > 0) & (alpha8 < 255)
    if not soft.any():
        return image  # a hard mask: nothing is mixed
    width, height = image.size
    small_size = working_size(image.size, work_side)
    rgb = np.asarray(image.convert("RGB").resize(small_size, Image.Resampling.BILINEAR),
                     np.float32) / 255.0
    alpha = np.asarray(mask.resize(small_size, Image.Resampling.BILINEAR), np.float32) / 255.0
    big, fine = fusion_radii(image.size, small_size)
    fg_mean, bg_mean = _fuse(rgb, rgb, rgb, alpha, big)
    fg_mean, bg_mean = _fuse(rgb, _correct(rgb, alpha, fg_mean, bg_mean), bg_mean, alpha, fine)
    rows, cols = np.nonzero(soft)
    # Full-size pixel centres in the small copy's coordinates.
    fy, fx = small_size[1] / height, small_size[0] / width
    srows, scols = (rows + 0.5) * fy - 0.5, (cols + 0.5) * fx - 0.5
    out = np.asarray(image.convert("RGB")).copy()
    pixels = out[rows, cols].astype(np.float32) / 255.0
    fg = _correct(pixels, alpha8[rows, cols].astype(np.float32) / 255.0,
                  _sample(fg_mean, srows, scols), _sample(bg_mean, srows, scols))
    out[rows, cols] = np.rint(fg * 255.0).astype(np.uint8)
    return Image.fromarray(out, "RGB")
