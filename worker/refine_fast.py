"""The guided refinement of worker/refine.py in compiled loops (numba): same alpha, few passes.

refine.refine() in numpy makes ~40 full passes over its arrays: 17 box filters of the
colour statistics, the 3x3 inverse, four full-resolution upsamplings of the coefficients, a
float copy of the photo, products, sums, contrast, clipping and rounding; at 4000x3000 that
is ~1 GB of memory traffic and ~2 s on one core. Here the statistics are box-filtered in
two passes over one 13-channel array (running sums), the coefficients in two more, and the
full-resolution alpha is one pass over the photo's bytes that interpolates the coefficients
on the fly and writes the 8-bit alpha. Results match refine.refine() to within one level of
255 (tests/unit/test_refine_fast.py); numba ships with rembg (via pymatting) and caches the
compiled code on disk (`cache=True`; NUMBA_CACHE_DIR in the images).
"""

from __future__ import annotations

import numba
import numpy as np
from PIL import Image

from worker.refine import upsample


@numba.njit(cache=True, nogil=True)
def _box(x: np.ndarray, r: int) -> np.ndarray:  # pragma: no cover - compiled
    """Mean over a (2r+1)^2 window of every channel of x [H, W, C]; edges replicate."""
    h, w, c = x.shape
    n = 2 * r + 1
    tmp = np.empty((h, w, c), np.float32)
    out = np.empty((h, w, c), np.float32)
    acc = np.zeros(c, np.float64)
    for y in range(h):
        acc[:] = 0.0
        for k in range(-r, r + 1):
            xx = min(max(k, 0), w - 1)
            for ch in range(c):
                acc[ch] += x[y, xx, ch]
        for xx in range(w):
            add, sub = min(xx + r + 1, w - 1), max(xx - r, 0)
            for ch in range(c):
                tmp[y, xx, ch] = acc[ch] / n
                acc[ch] += x[y, add, ch] - x[y, sub, ch]
    # Vertically row by row, one running sum per (column, channel): contiguous rows.
    col = np.zeros((w, c), np.float64)
    for k in range(-r, r + 1):
        yy = min(max(k, 0), h - 1)
        for xx in range(w):
            for ch in range(c):
                col[xx, ch] += tmp[yy, xx, ch]
    for y in range(h):
        add, sub = min(y + r + 1, h - 1), max(y - r, 0)
        for xx in range(w):
            for ch in range(c):
                out[y, xx, ch] = col[xx, ch] / n
                col[xx, ch] += tmp[add, xx, ch] - tmp[sub, xx, ch]
    return out


@numba.njit(cache=True, nogil=True)
def _coefficients(guide: np.ndarray, p: np.ndarray, r: int,
                  eps: float) -> np.ndarray:  # pragma: no cover - compiled
    """Window-averaged (a_r, a_g, a_b, b) [h, w, 4] of the colour guided filter."""
    h, w, _ = guide.shape
    stats = np.empty((h, w, 13), np.float32)
    for y in range(h):
        for x in range(w):
            ir, ig, ib, pv = guide[y, x, 0], guide[y, x, 1], guide[y, x, 2], p[y, x]
            stats[y, x, 0], stats[y, x, 1], stats[y, x, 2], stats[y, x, 3] = ir, ig, ib, pv
            stats[y, x, 4], stats[y, x, 5], stats[y, x, 6] = ir * pv, ig * pv, ib * pv
            stats[y, x, 7], stats[y, x, 8], stats[y, x, 9] = ir * ir, ir * ig, ir * ib
            stats[y, x, 10], stats[y, x, 11], stats[y, x, 12] = ig * ig, ig * ib, ib * ib
    m = _box(stats, r)
    ab = np.empty((h, w, 4), np.float32)
    for y in range(h):
        for x in range(w):
            mr, mg, mb, mp = m[y, x, 0], m[y, x, 1], m[y, x, 2], m[y, x, 3]
            c0, c1, c2 = m[y, x, 4] - mr * mp, m[y, x, 5] - mg * mp, m[y, x, 6] - mb * mp
            rr = m[y, x, 7] - mr * mr + eps
            rg = m[y, x, 8] - mr * mg
            rb = m[y, x, 9] - mr * mb
            gg = m[y, x, 10] - mg * mg + eps
            gb = m[y, x, 11] - mg * mb
            bb = m[y, x, 12] - mb * mb + eps
            i0, i1, i2 = gg * bb - gb * gb, gb * rb - rg * bb, rg * gb - gg * rb
            i3, i4, i5 = rr * bb - rb * rb, rb * rg - rr * gb, rr * gg - rg * rg
            det = rr * i0 + rg * i1 + rb * i2
            a0 = (i0 * c0 + i1 * c1 + i2 * c2) / det
            a1 = (i1 * c0 + i3 * c1 + i4 * c2) / det
            a2 = (i2 * c0 + i4 * c1 + i5 * c2) / det
            ab[y, x, 0], ab[y, x, 1], ab[y, x, 2] = a0, a1, a2
            ab[y, x, 3] = mp - (a0 * mr + a1 * mg + a2 * mb)
    return _box(ab, r)


@numba.njit(cache=True, nogil=True)
def _taps(n_out: int, n_in: int) -> tuple:  # pragma: no cover - compiled
    """Bilinear source indices and weights, as Pillow's (half-pixel centres, edges clamped)."""
    lo = np.empty(n_out, np.int64)
    hi = np.empty(n_out, np.int64)
    wt = np.empty(n_out, np.float32)
    scale = n_in / n_out
    for i in range(n_out):
        s = min(max((i + 0.5) * scale - 0.5, 0.0), n_in - 1.0)
        lo[i] = int(s)
        hi[i] = min(lo[i] + 1, n_in - 1)
        wt[i] = s - lo[i]
    return lo, hi, wt


@numba.njit(cache=True, nogil=True)
def _apply(ab: np.ndarray, photo: np.ndarray, contrast: float) -> np.ndarray:  # pragma: no cover
    """8-bit alpha [H, W] = clip(contrast * (a . I + b - 0.5) + 0.5), a and b interpolated."""
    h, w, _ = ab.shape
    big_h, big_w, _ = photo.shape
    ylo, yhi, ywt = _taps(big_h, h)
    xlo, xhi, xwt = _taps(big_w, w)
    out = np.empty((big_h, big_w), np.uint8)
    row = np.empty((w, 4), np.float32)
    for y in range(big_h):
        y0, y1, fy = ylo[y], yhi[y], ywt[y]
        for x in range(w):  # the coefficient row at this height, then along it
            for k in range(4):
                row[x, k] = ab[y0, x, k] + fy * (ab[y1, x, k] - ab[y0, x, k])
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


def refine_uint8(image: Image.Image, prob: np.ndarray, work_side: int = 768,
                 radius_frac: float = 0.005, eps: float = 1e-3,
                 contrast: float = 1.5) -> np.ndarray:
    """refine.refine() as 8-bit alpha [H, W], computed by the compiled kernels above."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    scale = min(1.0, work_side / max(width, height))
    small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = image if scale == 1.0 else image.resize(small_size, Image.Resampling.BILINEAR)
    guide = np.asarray(small, dtype=np.float32) * np.float32(1.0 / 255.0)
    p = upsample(prob, small_size)
    radius = max(1, round(radius_frac * max(small_size)))
    ab = _coefficients(guide, np.ascontiguousarray(p, np.float32), radius, eps)
    return _apply(ab, np.asarray(image), contrast)


def warm() -> None:
    """Compile (or load from numba's disk cache) every kernel before the first photo."""
    refine_uint8(Image.new("RGB", (6, 4)), np.zeros((4, 4), np.float32), work_side=4)
