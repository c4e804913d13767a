"""Refine: the model's low-resolution probability map -> a full-resolution 8-bit alpha matte.

The network sees the photo at 320x320 (U2-Net) or 1024x1024 (ISNet); stretching its map back
to the photo gives soft, blocky edges that ignore the photo's own contours. A guided filter
(He, Sun and Tang, "Guided Image Filtering", TPAMI 2013) fits, in every window, the alpha as
a linear function of the photo's colour: edges snap to colour edges and hair strands survive.
The fast variant (He and Sun, "Fast Guided Filter", 2015) fits the coefficients on a reduced
copy and applies them at full resolution, so the cost grows little with the photo's size.

It runs as compiled loops (numba): the 13 colour statistics are written as planes straight
from the reduced photo's bytes and box-filtered in place (worker/box_filter.py), the
coefficients overwrite the first four planes and are filtered the same way, and the
full-resolution alpha is one pass over the photo's bytes that interpolates the coefficients
on the fly and writes the 8-bit alpha. The same filter in plain numpy (~40 full passes over
its arrays, ~1 GB of memory traffic and ~2 s on one core at 4000x3000) is the reference the
unit tests hold this one to, within one level of 255 (tests/reference/refine_numpy.py,
tests/unit/test_refine.py). numba ships with rembg (via pymatting) and caches the compiled
code on disk (`cache=True`; NUMBA_CACHE_DIR in the images).
"""

from __future__ import annotations

import numba
import numpy as np
from PIL import Image

from worker.box_filter import box_mean, taps

# The longer side of the copy the coefficients are fitted on. 512 and 384 scored the same as
# 768 on every set and model (make quality's sets, u2netp and u2net: IoU within 0.001, SAD
# and gradient error within 0.3 %, boundary F a little higher) at ~0.7x the refinement's time.
WORK_SIDE = 512


def working_size(size: tuple[int, int], work_side: int) -> tuple[int, int]:
    """The reduced copy both edge steps work on: longer side work_side, never enlarged."""
    width, height = size
    scale = min(1.0, work_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def upsample(prob: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a float map to size (width, height)."""
    if prob.shape[::-1] == tuple(size):
        return prob.astype(np.float32, copy=False)
    img = Image.fromarray(prob.astype(np.float32, copy=False), "F")
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR))


@numba.njit(cache=True, nogil=True)
def _statistics(photo: np.ndarray, p: np.ndarray) -> np.ndarray:  # pragma: no cover
    """The 13 planes the guided filter averages: I (3), p, I p (3), the upper half of I I^T."""
    h, w, _ = photo.shape
    stats = np.empty((13, h, w), np.float32)
    scale = np.float32(1.0 / 255.0)
    for y in range(h):
        for x in range(w):
            ir, ig, ib = photo[y, x, 0] * scale, photo[y, x, 1] * scale, photo[y, x, 2] * scale
            pv = p[y, x]
            stats[0, y, x], stats[1, y, x], stats[2, y, x], stats[3, y, x] = ir, ig, ib, pv
            stats[4, y, x], stats[5, y, x], stats[6, y, x] = ir * pv, ig * pv, ib * pv
            stats[7, y, x], stats[8, y, x], stats[9, y, x] = ir * ir, ir * ig, ir * ib
            stats[10, y, x], stats[11, y, x], stats[12, y, x] = ig * ig, ig * ib, ib * ib
    return stats


@numba.njit(cache=True, nogil=True)
def _solve(m: np.ndarray, eps: float) -> None:  # pragma: no cover - compiled
    """Per pixel, (a_r, a_g, a_b, b) from the window means m [13, h, w], into m[0:4]."""
    _, h, w = m.shape
    for y in range(h):
        for x in range(w):
            mr, mg, mb, mp = m[0, y, x], m[1, y, x], m[2, y, x], m[3, y, x]
            c0, c1, c2 = m[4, y, x] - mr * mp, m[5, y, x] - mg * mp, m[6, y, x] - mb * mp
            rr = m[7, y, x] - mr * mr + eps
            rg = m[8, y, x] - mr * mg
            rb = m[9, y, x] - mr * mb
            gg = m[10, y, x] - mg * mg + eps
            gb = m[11, y, x] - mg * mb
            bb = m[12, y, x] - mb * mb + eps
            # a = (var_I + eps U)^-1 cov_Ip: the symmetric inverse as adjugate / det.
            i0, i1, i2 = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
            i3, i4, i5 = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
            det = rr * i0 + rg * i1 + rb * i2
            a0 = (i0 * c0 + i1 * c1 + i2 * c2) / det
            a1 = (i1 * c0 + i3 * c1 + i4 * c2) / det
            a2 = (i2 * c0 + i4 * c1 + i5 * c2) / det
            m[0, y, x], m[1, y, x], m[2, y, x] = a0, a1, a2
            m[3, y, x] = mp - (a0 * mr + a1 * mg + a2 * mb)


def _coefficients(small: np.ndarray, p: np.ndarray, r: int, eps: float) -> np.ndarray:
    """Window-averaged (a_r, a_g, a_b, b) planes [4, h, w] of the colour guided filter."""
    m = box_mean(_statistics(small, p), r, r)
    _solve(m, eps)
    return box_mean(m[:4], r, r)


@numba.njit(cache=True, nogil=True)
def _apply(ab: np.ndarray, photo: np.ndarray, contrast: float) -> np.ndarray:  # pragma: no cover
    """8-bit alpha [H, W] = clip(contrast * (a . I + b - 0.5) + 0.5), a and b interpolated."""
    _, h, w = ab.shape
    big_h, big_w, _ = photo.shape
    ylo, yhi, ywt = taps(big_h, h)
    xlo, xhi, xwt = taps(big_w, w)
    out = np.empty((big_h, big_w), np.uint8)
    row = np.empty((w, 4), np.float32)
    for y in range(big_h):
        y0, y1, fy = ylo[y], yhi[y], ywt[y]
        for k in range(4):  # the coefficient row at this height, then along it
            for x in range(w):
                row[x, k] = ab[k, y0, x] + fy * (ab[k, y1, x] - ab[k, y0, x])
        for x in range(big_w):
            x0, x1, fx = xlo[x], xhi[x], xwt[x]
            v = 0.0
            for k in range(3):
                coef = row[x0, k] + fx * (row[x1, k] - row[x0, k])
                v += coef * (photo[y, x, k] * np.float32(1.0 / 255.0))
            v += row[x0, 3] + fx * (row[x1, 3] - row[x0, 3])
            v = (v - 0.5) * contrast + 0.5
            out[y, x] = np.uint8(np.rint(min(max(v, 0.0), 1.0) * 255.0))
    return out


def guided_alpha(image: Image.Image, prob: np.ndarray, work_side: int = WORK_SIDE,
                 radius_frac: float = 0.005, eps: float = 1e-3,
                 contrast: float = 1.5) -> np.ndarray:
    """Full-size 8-bit alpha [H, W]: the model's map prob, edge-snapped to the photo.

    Coefficients are fitted on a copy whose longer side is work_side (never upscaled), with
    a window radius of radius_frac of that side, then applied to the full-size photo. The
    filter also softens hard edges a little; a mild contrast around 0.5 restores them (on
    the binary sets it lowers MAE below rembg's; on soft mattes it costs part of the gradient
    gain: both measured by make quality, docs/models.md "Quality").
    """
    if image.mode != "RGB":
        image = image.convert("RGB")
    small_size = working_size(image.size, work_side)
    small = (image if small_size == image.size
             else image.resize(small_size, Image.Resampling.BILINEAR))
    p = upsample(prob, small_size)
    radius = max(1, round(radius_frac * max(small_size)))
    ab = _coefficients(np.asarray(small), np.ascontiguousarray(p, np.float32), radius, eps)
    return _apply(ab, np.asarray(image), contrast)


def warm() -> None:
    """Compile (or load from numba's disk cache) every kernel before the first photo."""
    guided_alpha(Image.new("RGB", (6, 4)), np.zeros((4, 4), np.float32), work_side=4)
