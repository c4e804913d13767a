"""Geometry of an output: region of interest, crop with margin, the subject's scale and place.

Also the subject's box in the result, and a background photo scaled to cover the canvas. Pure
functions over PIL images: an RGB photo and its "L" mask always move together, so the
mask stays aligned with the pixels it cuts out. Pixels outside the photo (a margin past its edge,
the free canvas around a scaled subject) are black in the photo and 0 in the mask: transparent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PIL import Image

from shared.options import Length

Box = tuple[int, int, int, int]  # left, top, right, bottom (right / bottom exclusive)


@dataclass(frozen=True)
class SubjectBox:
    """The subject's bounding box in the output (remove.bg's X-Foreground-* headers)."""

    top: int
    left: int
    width: int
    height: int


def _px(length: Length, whole: float) -> float:
    number, unit = length
    return whole * float(number) / 100.0 if unit == "%" else float(number)


def apply_roi(mask: Image.Image, roi: list[Length] | None, factor: float = 1.0) -> Image.Image:
    """Clear the mask outside roi (x1 y1 x2 y2; px are input pixels, scaled by factor)."""
    if not roi:
        return mask
    width, height = mask.size

    def coord(length: Length, whole: int) -> int:
        value = _px(length, whole) if length[1] == "%" else float(length[0]) * factor
        return min(max(round(value), 0), whole)

    box = (coord(roi[0], width), coord(roi[1], height), coord(roi[2], width),
           coord(roi[3], height))
    out = Image.new("L", mask.size, 0)
    if box[2] > box[0] and box[3] > box[1]:
        out.paste(mask.crop(box), box[:2])
    return out


def crop_box(bbox: Box, margin: list[Length] | None) -> Box:
    """The subject's box grown by margin (top, right, bottom, left; % of the subject's size)."""
    left, top, right, bottom = bbox
    if not margin:
        return bbox
    sub_w, sub_h = right - left, bottom - top
    m_top, m_right, m_bottom, m_left = (round(_px(m, sub_h if i % 2 == 0 else sub_w))
                                        for i, m in enumerate(margin))
    return (left - m_left, top - m_top, right + m_right, bottom + m_bottom)


def place(image: Image.Image, mask: Image.Image, bbox: Box | None, canvas: Box,
          scale: float | None, position: list[float] | None) -> tuple[Image.Image, Image.Image]:
    """The canvas (a box in the photo's coordinates) with the subject scaled and placed on it.

    Without scale or position the canvas is a plain cut of the photo (past its edges: padded).
    With either, the subject (its bounding box) is moved onto an empty canvas: scaled so that
    it fills `scale` of the canvas in its tighter dimension, and placed at `position` of the
    free space (scale alone implies the centre, as remove.bg does).
    """
    if bbox is None or (scale is None and position is None):
        if canvas == (0, 0, *image.size):
            return image, mask
        return image.crop(canvas), mask.crop(canvas)
    cw, ch = canvas[2] - canvas[0], canvas[3] - canvas[1]
    subject, subject_mask = image.crop(bbox), mask.crop(bbox)
    sw, sh = subject.size
    if scale is not None:
        factor = scale * min(cw / sw, ch / sh)
        size = (max(1, round(sw * factor)), max(1, round(sh * factor)))
        subject = subject.resize(size, Image.Resampling.LANCZOS)
        subject_mask = subject_mask.resize(size, Image.Resampling.LANCZOS)
        sw, sh = size
    x, y = position if position is not None else (0.5, 0.5)
    at = (round((cw - sw) * x), round((ch - sh) * y))
    out, out_mask = Image.new("RGB", (cw, ch), 0), Image.new("L", (cw, ch), 0)
    out.paste(subject, at)
    out_mask.paste(subject_mask, at)
    return out, out_mask


def subject_box(mask: Image.Image) -> SubjectBox:
    """The bounding box of the mask's non-zero pixels (all zeros when there are none)."""
    bbox = mask.getbbox()
    if bbox is None:
        return SubjectBox(0, 0, 0, 0)
    return SubjectBox(top=bbox[1], left=bbox[0], width=bbox[2] - bbox[0],
                      height=bbox[3] - bbox[1])


def cover(background: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale background to cover size (no bars), centred, cropping the overflow."""
    bw, bh = background.size
    factor = max(size[0] / bw, size[1] / bh)
    scaled = (max(size[0], math.ceil(bw * factor)), max(size[1], math.ceil(bh * factor)))
    resized = background.resize(scaled, Image.Resampling.LANCZOS)
    left, top = (scaled[0] - size[0]) // 2, (scaled[1] - size[1]) // 2
    return resized.crop((left, top, left + size[0], top + size[1]))
