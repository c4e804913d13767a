"""Cut-out quality metrics over alpha mattes in [0, 1] (float arrays of one size).

Binary ground truth (segmentation sets) is scored with IoU, MAE and the boundary F-measure;
soft ground truth (matting sets) with the four standard matting errors of Rhemann et al.,
"A Perceptually Motivated Online Benchmark for Image Matting" (CVPR 2009), as implemented in
the Deep Image Matting evaluation code (Xu et al., CVPR 2017, `compute_*_loss.m`):

- SAD: sum of absolute differences, sum |a - g|; reported / 1000.
- MSE: mean of (a - g)^2.
- Gradient error: sum over pixels of (|grad a| - |grad g|)^2, gradients by first-order
  Gaussian derivative filters with sigma 1.4, both mattes first scaled to [0, 1]; / 1000.
- Connectivity error: for thresholds t = 0.1 .. 1 (step 0.1), the largest 4-connected
  component of (a >= t) & (g >= t) is the "source"; l(p) is the last threshold at which p
  was still in it; phi(x) = 1 - d * [d >= 0.15] with d = x - l; error sum |phi(a) - phi(g)|;
  / 1000.
The DIM code sums over the trimap's unknown region; our sets have no trimap, so every
metric here covers the whole image (the `valid` mask only drops unlabelled pixels).

Boundary F-measure: Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video
Object Segmentation" (DAVIS, CVPR 2016): boundary pixels of prediction and truth match when
within 0.008 of the image diagonal; F = 2PR / (P + R).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

THRESHOLD = 0.5  # alpha >= 0.5 is foreground, as rembg's own figures were measured


def _valid(gt: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    return np.ones(gt.shape, bool) if valid is None else valid


def iou(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Intersection over union of the foregrounds (alpha >= 0.5) over the valid pixels."""
    v = _valid(gt, valid)
    p, g = (pred >= THRESHOLD) & v, (gt >= THRESHOLD) & v
    union = np.count_nonzero(p | g)
    return 1.0 if union == 0 else np.count_nonzero(p & g) / union


def mae(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean absolute alpha error over the valid pixels."""
    v = _valid(gt, valid)
    return float(np.abs(pred[v] - gt[v]).mean()) if v.any() else 0.0


def sad(pred: np.ndarray, gt: np.ndarray) -> float:
    """Sum of absolute differences / 1000."""
    return float(np.abs(pred - gt).sum()) / 1000.0


def mse(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.square(pred - gt).mean())


def _unit(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return np.zeros_like(x) if hi <= lo else (x - lo) / (hi - lo)


def _gradient_magnitude(x: np.ndarray, sigma: float = 1.4) -> np.ndarray:
    gx = ndimage.gaussian_filter(x, sigma, order=(0, 1), mode="nearest")
    gy = ndimage.gaussian_filter(x, sigma, order=(1, 0), mode="nearest")
    return np.hypot(gx, gy)


def gradient_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Rhemann et al.'s gradient error / 1000 (see module docstring)."""
    a = _gradient_magnitude(_unit(pred.astype(np.float64)))
    g = _gradient_magnitude(_unit(gt.astype(np.float64)))
    return float(np.square(a - g).sum()) / 1000.0


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(mask)  # 4-connectivity (the default cross structure)
    if count == 0:
        return np.zeros(mask.shape, bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(sizes.argmax())


def connectivity_error(pred: np.ndarray, gt: np.ndarray, step: float = 0.1) -> float:
    """Rhemann et al.'s connectivity error / 1000 (see module docstring)."""
    thresholds = np.arange(0.0, 1.0 + step / 2, step)
    level = np.full(pred.shape, -1.0)
    for i in range(1, len(thresholds)):
        source = _largest_component((pred >= thresholds[i]) & (gt >= thresholds[i]))
        level[(level == -1) & ~source] = thresholds[i - 1]
    level[level == -1] = 1.0
    dp, dg = pred - level, gt - level
    phi_p = 1 - dp * (dp >= 0.15)
    phi_g = 1 - dg * (dg >= 0.15)
    return float(np.abs(phi_p - phi_g).sum()) / 1000.0


def _boundary(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, border_value=1)


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius:radius + 1, -radius:radius + 1]
    return x * x + y * y <= radius * radius


def boundary_f(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None,
               tolerance: float = 0.008) -> float:
    """DAVIS boundary F-measure of the alpha >= 0.5 foregrounds.

    Unlabelled pixels (GrabCut's band along the outline) count as background of the truth,
    whose boundary is then the inner edge of that band: within the tolerance of the true one.
    """
    g = gt >= THRESHOLD if valid is None else (gt >= THRESHOLD) & valid
    bp, bg = _boundary(pred >= THRESHOLD), _boundary(g)
    if not bp.any() and not bg.any():
        return 1.0
    if not bp.any() or not bg.any():
        return 0.0
    radius = max(1, int(np.ceil(tolerance * np.hypot(*gt.shape))))
    disk = _disk(radius)
    precision = np.count_nonzero(bp & ndimage.binary_dilation(bg, disk)) / np.count_nonzero(bp)
    recall = np.count_nonzero(bg & ndimage.binary_dilation(bp, disk)) / np.count_nonzero(bg)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def score(pred: np.ndarray, gt: np.ndarray, soft: bool,
          valid: np.ndarray | None = None) -> dict[str, float]:
    """Every metric that applies to this kind of ground truth."""
    out = {"mae": mae(pred, gt, valid), "boundary_f": boundary_f(pred, gt, valid)}
    if soft:
        out.update(sad=sad(pred, gt), mse=mse(pred, gt), grad=gradient_error(pred, gt),
                   conn=connectivity_error(pred, gt))
    else:
        out["iou"] = iou(pred, gt, valid)
    return out
