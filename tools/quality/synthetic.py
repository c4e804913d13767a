"""Pairs with a known alpha, built from photos that ship inside scikit-image.

For a fresh clone without ../shared/quality: a subject photo (the astronaut, the cat, the
coffee cup) is cut by a soft-edged ellipse and composited onto another photo, so the exact
ground-truth alpha is known. Not a benchmark of its own, only a regression guard.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter
from skimage import data as skdata

from tools.quality.dataset import Pair

SIZE = (480, 360)


def _photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(skdata, name)()).convert("RGB").resize(
        SIZE, Image.Resampling.BILINEAR)


def _ellipse_alpha(box: tuple[float, float, float, float], blur: float) -> np.ndarray:
    w, h = SIZE
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy, rx, ry = box
    inside = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
    mask = Image.fromarray((inside * 255).astype(np.uint8), "L")
    return np.asarray(mask.filter(ImageFilter.GaussianBlur(blur)), np.float32) / 255.0


def pairs() -> list[Pair]:
    """Six composites: three subjects on two backgrounds each, hard and soft edges."""
    subjects = [("astronaut", (240, 170, 120, 150)), ("chelsea", (250, 190, 150, 130)),
                ("coffee", (240, 180, 130, 140))]
    backgrounds = ["rocket", "page"]
    out = []
    for i, (subject, box) in enumerate(subjects):
        for j, background in enumerate(backgrounds):
            alpha = _ellipse_alpha(box, blur=1.0 if (i + j) % 2 else 4.0)
            fg = np.asarray(_photo(subject), np.float32)
            bg = np.asarray(_photo(background), np.float32)
            comp = fg * alpha[..., None] + bg * (1 - alpha[..., None])
            image = Image.fromarray(np.rint(comp).astype(np.uint8), "RGB")
            out.append(Pair("synthetic", f"{subject}-on-{background}", image, alpha, None,
                            soft=False))
    return out
