"""Edge colours: the subject's own colour under semi-transparent edge pixels, no old background.

A pixel on a hair strand or a soft edge is a mix, I = a F + (1 - a) B, of the subject's colour
F and the old background B. Cutting out with F = I keeps B's share in it: a light fringe
around a subject shot on a light wall, visible on any new background. Blur-fusion (Forte and
Pitie, "Approximate Fast Foreground Colour Estimation", ICIP 2021) estimates F from local
means of the confident foreground and background with two box-filter passes (radius 90,
then 6), which is linear in the pixel count. Opaque pixels keep their colour (F = I at a = 1).

It runs as compiled loops (numba): each fusion pass is one kernel that writes its seven planes
(alpha, the weighted foreground and background colours) from the reduced photo's bytes, the
box means run in place (worker/box_filter.py), and the full-resolution correction visits only
the mixed pixels, interpolating the local means on the fly. The same estimate in numpy and
scipy filters (~140 ms at 1024x1024 on one core, more than the guided refinement) is the
reference the unit tests hold this one to, within one level of 255
(tests/reference/edge_colours_numpy.py, tests/unit/test_edge_colours.py).
"""

from __future__ import annotations

import numba
import numpy as np
from PIL import Image

from worker.box_filter import box_mean, taps, uniform_window
from worker.refine import working_size

_EPS = 1e-5


@numba.njit(cache=True, nogil=True)
def _fusion_planes(rgb: np.ndarray, alpha: np.ndarray, means: np.ndarray,
                   second: bool) -> np.ndarray:  # pragma: no cover - compiled
    """[a, F a (3), B (1 - a) (3)] at the working size, from the photo's bytes.

    The first pass takes the photo for both colours (F = B = I); the second takes F, the
    first pass's corrected colour, and B, its background mean (both from means).
    """
    h, w, _ = rgb.shape
    planes = np.empty((7, h, w), np.float32)
    scale = np.float32(1.0 / 255.0)
    for y in range(h):
        for x in range(w):
            a = alpha[y, x] * scale
            planes[0, y, x] = a
            for c in range(3):
                fg = bg = rgb[y, x, c] * scale
                if second:
                    f, bg = means[1 + c, y, x], means[4 + c, y, x]
                    fg = min(max(f + a * (fg - a * f - (1 - a) * bg), 0.0), 1.0)
                planes[1 + c, y, x] = fg * a
                planes[4 + c, y, x] = bg * (1 - a)
    return planes


@numba.njit(cache=True, nogil=True)
def _to_means(planes: np.ndarray) -> None:  # pragma: no cover - compiled
    """Blurred weighted colours -> local foreground and background means, in place."""
    _, h, w = planes.shape
    for y in range(h):
        for x in range(w):
            ba = planes[0, y, x]
            to_fg, to_bg = 1.0 / (ba + _EPS), 1.0 / ((1 - ba) + _EPS)
            for c in range(3):
                planes[1 + c, y, x] *= to_fg
                planes[4 + c, y, x] *= to_bg


@numba.njit(cache=True, nogil=True)
def _correct_mixed(photo: np.ndarray, alpha: np.ndarray,
                   means: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """The photo with every mixed pixel (0 < alpha < 255) set to its corrected colour."""
    big_h, big_w, _ = photo.shape
    _, h, w = means.shape
    ylo, yhi, ywt = taps(big_h, h)
    xlo, xhi, xwt = taps(big_w, w)
    out = photo.copy()
    scale = np.float32(1.0 / 255.0)
    for y in range(big_h):
        y0, y1, fy = ylo[y], yhi[y], ywt[y]
        for x in range(big_w):
            av = alpha[y, x]
            if av == 0 or av == 255:
                continue
            a = av * scale
            x0, x1, fx = xlo[x], xhi[x], xwt[x]
            for c in range(3):
                f = _bilinear(means[1 + c], y0, y1, fy, x0, x1, fx)
                b = _bilinear(means[4 + c], y0, y1, fy, x0, x1, fx)
                v = f + a * (photo[y, x, c] * scale - a * f - (1 - a) * b)
                out[y, x, c] = np.uint8(np.rint(min(max(v, 0.0), 1.0) * 255.0))
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _bilinear(plane: np.ndarray, y0: int, y1: int, fy: float, x0: int, x1: int,
              fx: float) -> float:  # pragma: no cover - compiled
    top = plane[y0, x0] + fx * (plane[y0, x1] - plane[y0, x0])
    bottom = plane[y1, x0] + fx * (plane[y1, x1] - plane[y1, x0])
    return top + fy * (bottom - top)


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
    if not ((alpha8 > 0) & (alpha8 < 255)).any():
        return image  # a hard mask: nothing is mixed
    if image.mode != "RGB":
        image = image.convert("RGB")
    small_size = working_size(image.size, work_side)
    rgb = np.asarray(image.resize(small_size, Image.Resampling.BILINEAR))
    alpha = np.asarray(mask.resize(small_size, Image.Resampling.BILINEAR))
    big, fine = fusion_radii(image.size, small_size)
    unused = np.empty((7, 1, 1), np.float32)
    means = box_mean(_fusion_planes(rgb, alpha, unused, False), *uniform_window(big))
    _to_means(means)
    means = box_mean(_fusion_planes(rgb, alpha, means, True), *uniform_window(fine))
    _to_means(means)
    return Image.fromarray(_correct_mixed(np.asarray(image), alpha8, means), "RGB")


def warm() -> None:
    """Compile (or load from numba's disk cache) every kernel before the first photo."""
    mask = Image.fromarray(np.array([[0, 128, 255, 255]] * 3, np.uint8), "L")
    estimate(Image.new("RGB", (4, 3)), mask, work_side=4)
