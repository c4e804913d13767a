"""Box means over planes [C, H, W] in compiled loops: the building block of both edge steps.

The guided refinement (worker/refine.py) and the edge colour estimate
(worker/edge_colours.py) are box filters of a dozen channels and a little arithmetic. A
box mean costs the same for any radius with running sums: along each row one add and one
subtract per pixel (float64, so that the sums do not drift), then down the columns with a
whole row at a time, which the compiler turns into vector instructions. Planes, not
interleaved channels: every inner loop walks contiguous memory. Measured at 768x768x13 on
one core: 12 ms, against 51 ms for the interleaved loops (and their fresh arrays) it replaces.

The window is [i - before, i + after] with edges replicated: (r, r) is a (2r+1)-wide box,
(n // 2, n - 1 - n // 2) is scipy.ndimage.uniform_filter's n-wide one, odd or even.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def box_mean(x: np.ndarray, before: int, after: int) -> np.ndarray:  # pragma: no cover
    """Mean of each plane of x [C, H, W] (float32) over the window, in place; returns x.

    In place because the planes are scratch for every caller: a fresh 30 MB array costs
    more in page faults than the filtering itself. Across, a copy of the row is read;
    down, a ring of the last before+1 original rows.
    """
    planes, h, w = x.shape
    inv = 1.0 / (before + after + 1)
    row = np.empty(w, np.float32)
    depth = before + 1
    ring = np.empty((depth, w), np.float32)
    column = np.empty(w, np.float64)
    for c in range(planes):
        for y in range(h):
            row[:] = x[c, y]
            acc = 0.0
            for k in range(-before, after + 1):
                acc += row[min(max(k, 0), w - 1)]
            for i in range(w):
                x[c, y, i] = acc * inv
                acc += row[min(i + after + 1, w - 1)] - row[max(i - before, 0)]
        column[:] = 0.0
        for k in range(-before, after + 1):
            column += x[c, min(max(k, 0), h - 1)]
        for y in range(h):
            ring[y % depth] = x[c, y]
            add, old = min(y + after + 1, h - 1), ring[max(y - before, 0) % depth]
            for i in range(w):
                x[c, y, i] = column[i] * inv
            if y + 1 < h:  # rows below y are still the originals
                for i in range(w):
                    column[i] += x[c, add, i] - old[i]
    return x


@numba.njit(cache=True, nogil=True)
def taps(n_out: int, n_in: int) -> tuple:  # pragma: no cover - compiled
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


def uniform_window(size: int) -> tuple[int, int]:
    """(before, after) of scipy.ndimage.uniform_filter's window of `size` pixels."""
    return size // 2, size - 1 - size // 2
