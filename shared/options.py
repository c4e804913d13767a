"""Output options of both APIs (size, format, crop, scale, ...): parsed and normalised, stdlib only.

The gateway validates with these before it reserves a credit (a bad value costs nothing); the
normalised values travel in the task payload, and the worker applies them (worker/decode.py the
size, worker/render.py the layout and background, worker/encode.py the format). Values follow
remove.bg's published API reference, spelling included.
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

# size -> the most pixels of the output; remove.bg's legacy aliases map onto the same limits.
# "original" is our HeySwap endpoint's default: the input's own size (up to MAX_IMAGE_PIXELS).
SIZE_ALIASES: dict[str, str] = {
    "preview": "preview", "small": "preview", "regular": "preview",
    "medium": "medium", "hd": "hd",
    "full": "full", "4k": "full", "auto": "full",
    "50mp": "50MP",
    "original": "original",
}
SIZE_PIXELS: dict[str, int] = {"preview": 250_000, "medium": 1_500_000, "hd": 4_000_000,
                               "full": 25_000_000, "50MP": 50_000_000}
# remove.bg: "The maximum margin that can be added on each side is 50% of the subject
# dimensions or 500 pixels."
MAX_MARGIN_PX = 500
MAX_MARGIN_PCT = 50.0

Length = list[Any]  # [value, "px" | "%"]: JSON-able, so it travels in the payload as it is


class OutputOptions(TypedDict, total=False):
    """The normalised options in the task payload; a missing key means the default."""

    size: str  # a SIZE_PIXELS key or "original"
    channels: str  # "rgba" | "alpha"
    crop: bool
    crop_margin: list[Length]  # top, right, bottom, left
    scale: float | None  # fraction 0.1..1 of the canvas; None: original
    position: list[float] | None  # [x, y] fractions 0..1; None: original
    roi: list[Length] | None  # x1, y1, x2, y2
    bg_image_url: str | None
    bg_image_key: str | None  # an uploaded background photo, in S3
    require_foreground: bool  # remove.bg answers "unknown_foreground" for an empty mask
    color_space: str  # "srgb": the output converted to sRGB; missing: the photo's own space


def parse_size(value: str) -> str:
    """A size name (any case, remove.bg's aliases too) -> its canonical name."""
    canonical = SIZE_ALIASES.get(str(value).strip().lower())
    if canonical is None:
        raise ValueError("size must be preview, full, 50MP or auto (or small, regular, "
                         "medium, hd, 4k)")
    return canonical


def size_limit(size: str | None, max_image_pixels: int) -> int:
    """The most output pixels a size allows (never above the input pixel limit)."""
    return min(SIZE_PIXELS.get(size or "original", max_image_pixels), max_image_pixels)


_LENGTH = re.compile(r"(\d+(?:\.\d+)?)(px|%)?\Z")


def _length(token: str) -> Length:
    match = _LENGTH.match(token.strip().lower())
    if match is None:
        raise ValueError(f"{token[:20]!r} is not a length like 30px or 10%")
    number = float(match.group(1))
    return [int(number) if number.is_integer() else number, match.group(2) or "px"]


def parse_margin(value: str) -> list[Length]:
    """crop_margin: one, two or four lengths (CSS order) -> [top, right, bottom, left]."""
    parts = str(value).replace(",", " ").split()
    if len(parts) not in (1, 2, 4):
        raise ValueError("crop_margin takes 1, 2 or 4 values, e.g. 10px, 10% 20px")
    lengths = [_length(p) for p in parts]
    for number, unit in lengths:
        if (unit == "px" and number > MAX_MARGIN_PX) or (unit == "%" and number > MAX_MARGIN_PCT):
            raise ValueError(f"crop_margin is at most {MAX_MARGIN_PX}px or "
                             f"{MAX_MARGIN_PCT:g}% per side")
    if len(lengths) == 1:
        lengths *= 4
    elif len(lengths) == 2:
        lengths *= 2
    return lengths


def _percent(token: str, low: float, high: float, name: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)%", token.strip())
    if match is None or not low <= float(match.group(1)) <= high:
        raise ValueError(f"{name} must be a percentage from {low:g}% to {high:g}%")
    return float(match.group(1)) / 100.0


def parse_scale(value: str) -> float | None:
    """scale: "original" -> None, "10%".."100%" -> a fraction."""
    text = str(value).strip().lower()
    return None if text == "original" else _percent(text, 10, 100, "scale")


def parse_position(value: str) -> list[float] | None:
    """position: "original" -> None, "center", or one or two percentages (x, y)."""
    text = str(value).strip().lower()
    if text == "original":
        return None
    if text == "center":
        return [0.5, 0.5]
    parts = text.replace(",", " ").split()
    if len(parts) not in (1, 2):
        raise ValueError("position is original, center, or one or two percentages")
    xy = [_percent(p, 0, 100, "position") for p in parts]
    return xy * 2 if len(xy) == 1 else xy


def parse_roi(value: str) -> list[Length] | None:
    """roi: "x1 y1 x2 y2", each in px or %; the whole image ("0% 0% 100% 100%") -> None."""
    parts = str(value).replace(",", " ").split()
    if len(parts) != 4:
        raise ValueError("roi is four values: x1 y1 x2 y2 (px or %), e.g. 0% 0% 100% 100%")
    box = [_length(p) for p in parts]
    if any(unit == "%" and number > 100 for number, unit in box):
        raise ValueError("roi percentages are at most 100%")
    if box == [[0, "%"], [0, "%"], [100, "%"], [100, "%"]]:
        return None
    for low, high in ((box[0], box[2]), (box[1], box[3])):
        if low[1] == high[1] and low[0] >= high[0]:
            raise ValueError("roi must have x1 < x2 and y1 < y2")
    return box
