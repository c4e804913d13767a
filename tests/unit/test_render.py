"""Unit tests for worker/render.py's backgrounds (composite, gradient) and shared/colors.py.

The layout options (crop, scale, position, roi, channels) are in tests/unit/test_options.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from shared.colors import parse_gradient, parse_hex_color
from shared.errors import InvalidParameter
from worker.render import composite, gradient

pytestmark = pytest.mark.unit

RED = (255, 0, 0)


# ---------------------------------------------------------------- colours

@pytest.mark.parametrize(("value", "expected"), [
    ("#abc", (0xAA, 0xBB, 0xCC)),
    ("#ABC", (0xAA, 0xBB, 0xCC)),
    ("#AABBCC", (0xAA, 0xBB, 0xCC)),
    ("#aabbcc", (0xAA, 0xBB, 0xCC)),
    ("#000000", (0, 0, 0)),
    ("#fFfFfF", (255, 255, 255)),
])
def test_parse_hex_color_accepts(value: str, expected: tuple[int, int, int]) -> None:
    assert parse_hex_color(value) == expected


@pytest.mark.parametrize("value", ["abc", "#abcd", "#ggg", "", "#", "#aabbc", "#aabbccd",
                                   "aabbcc", " #abc", "#abc\n", "#ab c", "red"])
def test_parse_hex_color_refuses(value: str) -> None:
    with pytest.raises(ValueError):
        parse_hex_color(value)


def test_parse_gradient() -> None:
    assert parse_gradient("#000:#FFFFFF") == ((0, 0, 0), (255, 255, 255))
    for bad in ("#000", "#000:#fff:#123", "#000-#fff", ":#fff"):
        with pytest.raises(ValueError):
            parse_gradient(bad)


# ---------------------------------------------------------------- composite

def _scene(width: int = 37, height: int = 23, alpha: int = 0) -> tuple[Image.Image, Image.Image]:
    return Image.new("RGB", (width, height), (9, 99, 199)), Image.new("L", (width, height), alpha)


@pytest.mark.parametrize(("direction", "first_at", "second_at"), [
    ("vertical", [(x, 0) for x in range(37)], [(x, 22) for x in range(37)]),
    (None, [(x, 0) for x in range(37)], [(x, 22) for x in range(37)]),
    ("horizontal", [(0, y) for y in range(23)], [(36, y) for y in range(23)]),
    ("diagonal-tl-br", [(0, 0)], [(36, 22)]),
    ("diagonal-bl-tr", [(0, 22)], [(36, 0)]),
])
def test_gradient_end_pixels_exact(direction: str | None, first_at: list, second_at: list) -> None:
    image, mask = _scene()
    out = composite(image, mask, None, "#10a0F0:#f08", direction, "png")
    assert out.mode == "RGB"
    first, second = (0x10, 0xA0, 0xF0), (0xFF, 0x00, 0x88)
    assert {out.getpixel(p) for p in first_at} == {first}
    assert {out.getpixel(p) for p in second_at} == {second}
    # The middle is in between, not one of the ends.
    mid = out.getpixel((18, 11))
    assert all(min(a, b) < m < max(a, b) for a, b, m in zip(first, second, mid, strict=True))


def test_gradient_diagonal_is_monotonic_along_the_diagonal() -> None:
    arr = np.asarray(gradient((50, 50), (0, 0, 0), (255, 255, 255), "diagonal-tl-br"))
    diag = arr[np.arange(50), np.arange(50), 0].astype(int)
    assert np.all(np.diff(diag) >= 0) and diag[0] == 0 and diag[-1] == 255


def test_bg_color_overrides_gradient() -> None:
    image, mask = _scene()
    out = composite(image, mask, "#f00", "#000000:#ffffff", "horizontal", "png")
    assert out.mode == "RGB"
    assert set(out.getdata()) == {RED}


def test_opaque_mask_keeps_the_subject() -> None:
    image, mask = _scene(alpha=255)
    out = composite(image, mask, "#00ff00", None, None, "webp")
    assert set(out.getdata()) == {(9, 99, 199)}


def test_jpg_without_background_is_white() -> None:
    image, mask = _scene()
    out = composite(image, mask, None, None, None, "jpg")
    assert out.mode == "RGB"
    assert set(out.getdata()) == {(255, 255, 255)}


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_transparent_output_keeps_alpha_and_zeroes_hidden_colour(fmt: str) -> None:
    image, _ = _scene()
    mask = Image.new("L", image.size, 0)
    mask.paste(200, (0, 0, 10, 23))
    out = composite(image, mask, None, None, None, fmt)
    assert out.mode == "RGBA"
    assert out.getpixel((5, 5)) == (9, 99, 199, 200)
    assert out.getpixel((30, 5)) == (0, 0, 0, 0)
    assert np.array_equal(np.asarray(out)[:, :, 3], np.asarray(mask))


def test_composite_refuses_bad_parameters() -> None:
    image, mask = _scene()
    with pytest.raises(InvalidParameter):
        composite(image, mask, "blue", None, None, "png")
    with pytest.raises(InvalidParameter):
        composite(image, mask, None, "#000", None, "png")
    with pytest.raises(InvalidParameter):
        composite(image, mask, None, "#000:#fff", "radial", "png")
