"""The compiled box mean is scipy's uniform filter (edges replicated), odd and even widths."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from worker.box_filter import box_mean, taps, uniform_window


@pytest.mark.parametrize(("shape", "width"), [((3, 50, 37), 9), ((2, 5, 7), 9),
                                              ((1, 200, 300), 68), ((4, 31, 40), 6),
                                              ((1, 1, 1), 3), ((13, 9, 4), 1)])
def test_box_mean_is_scipys_uniform_filter(shape: tuple[int, int, int], width: int) -> None:
    planes = np.random.default_rng(7).random(shape, dtype=np.float32)
    want = ndimage.uniform_filter(planes, size=(1, width, width), mode="nearest")
    got = box_mean(planes.copy(), *uniform_window(width))
    assert got.dtype == np.float32 and got.shape == shape
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_box_mean_works_in_place_on_a_leading_slice() -> None:
    planes = np.random.default_rng(3).random((5, 20, 30), dtype=np.float32)
    want = ndimage.uniform_filter(planes[:3], size=(1, 5, 5), mode="nearest")
    untouched = planes[3:].copy()
    out = box_mean(planes[:3], 2, 2)
    assert np.shares_memory(out, planes)
    np.testing.assert_allclose(planes[:3], want, atol=1e-6)  # the slice now holds the means
    assert np.array_equal(planes[3:], untouched)


def test_taps_follow_pillow_bilinear_centres() -> None:
    lo, hi, wt = taps(4, 2)  # 2 -> 4: centres at -0.25, 0.25, 0.75, 1.25 (clamped)
    assert list(lo) == [0, 0, 0, 1] and list(hi) == [1, 1, 1, 1]
    np.testing.assert_allclose(wt, [0.0, 0.25, 0.75, 0.0])
