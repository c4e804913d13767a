"""Unit tests for worker/encode.py: png, jpg, webp and avif round trips, PNG levels, extensions.

zip and auto, which need a rendered result, are in tests/unit/test_options.py.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from shared.errors import InvalidParameter
from worker.encode import EXTENSIONS, image_bytes
from worker.render import composite

pytestmark = pytest.mark.unit


def _scene(width: int, height: int) -> tuple[Image.Image, Image.Image]:
    return Image.new("RGB", (width, height), (9, 99, 199)), Image.new("L", (width, height), 0)


@pytest.mark.parametrize(("fmt", "pil_format", "content_type", "mode"), [
    ("png", "PNG", "image/png", "RGBA"),
    ("png", "PNG", "image/png", "RGB"),
    ("jpg", "JPEG", "image/jpeg", "RGB"),
    ("webp", "WEBP", "image/webp", "RGBA"),
    ("webp", "WEBP", "image/webp", "RGB"),
    ("avif", "AVIF", "image/avif", "RGBA"),
    ("avif", "AVIF", "image/avif", "RGB"),
])
def test_encode_round_trip(fmt: str, pil_format: str, content_type: str, mode: str) -> None:
    image, mask = _scene(width=64, height=48)
    mask.paste(255, (0, 0, 32, 48))
    out = composite(image, mask, None if mode == "RGBA" else "#123456", None, None, fmt)
    assert out.mode == mode
    data, ctype = image_bytes(out, fmt)
    assert ctype == content_type
    back = Image.open(io.BytesIO(data))
    assert back.format == pil_format and back.size == (64, 48)
    if mode == "RGBA":
        assert back.mode == "RGBA"
        alpha = np.asarray(back.convert("RGBA"))[:, :, 3]
        assert alpha[10, 5] == 255 and alpha[10, 50] == 0
    if fmt == "png":
        assert np.array_equal(np.asarray(back), np.asarray(out))  # lossless


def test_encode_png_compress_level_and_jpg_of_rgba() -> None:
    noisy = Image.fromarray(np.random.default_rng(1).integers(0, 40, (64, 64, 3), np.uint8))
    assert len(image_bytes(noisy, "png", 0)[0]) > len(image_bytes(noisy, "png", 9)[0])
    data, _ = image_bytes(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), "jpg")
    assert Image.open(io.BytesIO(data)).convert("RGB").getpixel((4, 4))[0] > 245  # white
    with pytest.raises(InvalidParameter):
        image_bytes(noisy, "gif")


def test_extensions() -> None:
    assert EXTENSIONS == {"png": "png", "jpg": "jpg", "webp": "webp", "avif": "avif"}
