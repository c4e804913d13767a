"""The guided refinement in plain numpy and scipy: the reference worker/refine.py is held to.

The filter is written here as the paper gives it (He, Sun and Tang, "Guided Image Filtering",
TPAMI 2013; the fast variant, He and Sun 2015): box filters of the colour statistics, the 3x3
inverse, the coefficients upsampled to the photo, then a * I + b. The worker runs the same
steps in compiled loops; tests/unit/test_refine.py compares the two, within one level of 255.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from worker.refine import WORK_SIDE, upsample, working_size


def to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Alpha in [0, 1] to 0..255, rounded."""
    return np.rint(np.clip(alpha, 0.0, 1.0) * 255.0).astype(np.uint8)


def _box(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, per channel; edges replicate."""
    size = (2 * radius + 1, 2 * radius + 1) + (1,) * (x.ndim - 2)
    return ndimage.uniform_filter(x, size=size, mode="nearest")


def guided_filter(guide: np.ndarray, src: np.ndarray, radius: int,
                  eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Colour guided filter of src [H, W] by guide [H, W, 3] (float32 in [0, 1]).

    Returns the window-averaged linear coefficients (a [H, W, 3], b [H, W]): the filtered
    output is (a * guide).sum(-1) + b, on this guide or on a larger copy of it.
    """
    mean_i = _box(guide, radius)
    mean_p = _box(src, radius)
    cov_ip = _box(guide * src[..., None], radius) - mean_i * mean_p[..., None]
    # var_I: the 3x3 covariance of the guide's colour in each window (symmetric).
    rr, rg, rb, gg, gb, bb = (
        _box(guide[..., i] * guide[..., j], radius) - mean_i[..., i] * mean_i[..., j]
        for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)))
    rr, gg, bb = rr + eps, gg + eps, bb + eps
    # a = (var_I + eps U)^-1 cov_Ip, with the symmetric inverse written out (adjugate / det).
    inv = np.stack([gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb,
                    rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg], axis=-1)
    det = rr * inv[..., 0] + rg * inv[..., 1] + rb * inv[..., 2]
    inv /= det[..., None]
    c0, c1, c2 = cov_ip[..., 0], cov_ip[..., 1], cov_ip[..., 2]
    a = np.stack([inv[..., 0] * c0 + inv[..., 1] * c1 + inv[..., 2] * c2,
                  inv[..., 1] * c0 + inv[..., 3] * c1 + inv[..., 4] * c2,
                  inv[..., 2] * c0 + inv[..., 4] * c1 + inv[..., 5] * c2], axis=-1)
    b = mean_p - (a * mean_i).sum(axis=-1)
    return _box(a, radius), _box(b, radius)


def refine(image: Image.Image, prob: np.ndarray, work_side: int = WORK_SIDE,
           radius_frac: float = 0.005, eps: float = 1e-3, contrast: float = 1.5) -> np.ndarray:
    """Full-size alpha [H, W] in [0, 1], as worker.refine.guided_alpha() (same parameters)."""
    width, height = image.size
    small_size = working_size(image.size, work_side)
    small = np.asarray(image.convert("RGB").resize(small_size, Image.Resampling.BILINEAR),
                       dtype=np.float32) / 255.0
    p = upsample(prob, small_size)
    radius = max(1, round(radius_frac * max(small_size)))
    a, b = guided_filter(small, p, radius, eps)
    if small_size != image.size:
        a = np.stack([upsample(a[..., c], (width, height)) for c in range(3)], axis=-1)
        b = upsample(b, (width, height))
        full = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    else:
        full = small
    alpha = (a * full).sum(axis=-1) + b
    if contrast != 1.0:
        alpha -= 0.5
        alpha *= contrast
        alpha += 0.5
    return np.clip(alpha, 0.0, 1.0, out=alpha)
