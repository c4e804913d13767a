"""make quality's metrics on small arrays whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tools.quality import scores


def test_iou_and_mae_leave_unlabelled_pixels_out():
    gt = np.array([[1, 1, 0, 0]], np.float32)
    pred = np.array([[1, 0, 1, 0]], np.float32)
    assert scores.iou(pred, gt) == pytest.approx(1 / 3)  # 1 shared of 3 in the union
    assert scores.mae(pred, gt) == pytest.approx(0.5)
    valid = np.array([[True, False, True, True]])
    assert scores.iou(pred, gt, valid) == pytest.approx(1 / 2)
    assert scores.mae(pred, gt, valid) == pytest.approx(1 / 3)
    assert scores.iou(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0  # both empty: agree


def test_iou_thresholds_alpha_at_one_half():
    gt = np.array([[1.0, 0.0]])
    assert scores.iou(np.array([[0.5, 0.49]]), gt) == 1.0
    assert scores.iou(np.array([[0.49, 0.0]]), gt) == 0.0


def test_sad_and_mse():
    gt = np.zeros((10, 10))
    pred = np.zeros((10, 10))
    pred[0, :4] = 0.5  # four pixels off by 0.5
    assert scores.sad(pred, gt) == pytest.approx(2 / 1000)
    assert scores.mse(pred, gt) == pytest.approx(4 * 0.25 / 100)


def test_gradient_error_is_zero_for_equal_and_positive_for_blurred_edges():
    gt = np.zeros((20, 20))
    gt[:, 10:] = 1
    assert scores.gradient_error(gt, gt) == 0.0
    soft = gt.copy()
    soft[:, 8:12] = [0.2, 0.4, 0.6, 0.8]
    assert scores.gradient_error(soft, gt) > 0.0
    # Scale-free: both mattes go to [0, 1] first (as the DIM code's mat2gray).
    assert scores.gradient_error(gt * 0.5, gt) == pytest.approx(0.0, abs=1e-12)


def test_connectivity_error_counts_a_detached_blob():
    gt = np.zeros((5, 5))
    gt[0:2, 0:2] = 1
    pred = gt.copy()
    assert scores.connectivity_error(pred, gt) == 0.0
    pred[4, 4] = 1.0  # a fully opaque pixel far from the subject
    # For that pixel: l = 0 (never in the source component), d = 1 >= 0.15 -> phi = 0 for
    # pred, phi = 1 for gt (d = 0): error 1, / 1000.
    assert scores.connectivity_error(pred, gt) == pytest.approx(1 / 1000)


def test_boundary_f_is_one_for_a_match_and_tolerates_a_small_shift():
    gt = np.zeros((100, 100))
    gt[20:80, 20:80] = 1
    assert scores.boundary_f(gt, gt) == 1.0
    # Tolerance: ceil(0.008 * diagonal 141.4) = 2 px; a 1 px shift still matches.
    shifted = np.roll(gt, 1, axis=1)
    assert scores.boundary_f(shifted, gt) == 1.0
    far = np.roll(gt, 10, axis=1)
    assert scores.boundary_f(far, gt) < 0.6
    assert scores.boundary_f(np.zeros_like(gt), gt) == 0.0


def test_score_picks_the_metrics_of_the_set_kind():
    gt = np.zeros((8, 8))
    gt[2:6, 2:6] = 1
    assert set(scores.score(gt, gt, soft=False)) == {"iou", "mae", "boundary_f"}
    soft = scores.score(gt, gt, soft=True)
    assert set(soft) == {"mae", "boundary_f", "sad", "mse", "grad", "conn"}
    assert soft["sad"] == soft["mse"] == soft["grad"] == soft["conn"] == 0.0


def test_boundary_f_with_an_unlabelled_band_along_the_outline():
    # GrabCut-style truth: 255 inside, a 2 px band of 128 (unlabelled) around it.
    gt = np.zeros((100, 100))
    gt[18:82, 18:82] = 128 / 255
    gt[20:80, 20:80] = 1.0
    valid = gt != 128 / 255
    pred = np.zeros((100, 100))
    pred[19:81, 19:81] = 1.0  # the outline in the middle of the band
    assert scores.boundary_f(pred, gt, valid) == 1.0
    assert scores.iou(pred, gt, valid) == 1.0
