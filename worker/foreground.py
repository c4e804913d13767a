"""Foreground colour for semi-transparent edge pixels: no halo of the old background.

A pixel on a hair strand or a soft edge is a mix, I = a F + (1 - a) B, of the subject's colour
F and the old background B. Cutting out with F = I keeps B's share in it: a light fringe
around a subject shot on a light wall, visible on any new background. Blur-fusion (Forte and
Pitie, "Approximate Fast Foreground Colour Estimation", ICIP 2021) estimates F from local
means of the confident foreground and background with two box-filter passes (radius 90,
then 6), which is linear in the pixel count. Opaque pixels keep their colour (F = I at a = 1).
This is the reference in numpy; the worker runs the same in compiled loops
(worker/foreground_fast.py).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

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


def fusion_radii(size: tuple[int, int], small_size: tuple[int, int]) -> tuple[int, int]:
    """Box widths of the two passes (90 and 6 at full size), scaled to the reduced copy."""
    scale = max(small_size) / max(size)
    return max(3, round(90 * scale)), max(3, round(6 * scale))


def estimate(image: Image.Image, mask: Image.Image, work_side: int = 768) -> Image.Image:
    """The subject's own colour under every pixel (RGB, image's size); image where opaque.

    The local means are smooth by construction: they are computed on a copy whose longer
    side is work_side (radii scaled with it), and only the mixed pixels are corrected at
    full resolution, so the cost follows the edge's length more than the photo's size.
    """
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
