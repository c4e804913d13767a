"""Unit tests for worker/decode.py: bytes -> an upright RGB image, or a clear refusal."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from shared.errors import InputTooLarge, InvalidImage
from worker.decode import upright_rgb

pytestmark = pytest.mark.unit

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def _save(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def _one_bit_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG, streamed so a huge one costs little memory or time."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


@pytest.fixture
def no_full_decode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if Pillow starts decoding pixel data."""
    def _boom(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data was decoded")
    monkeypatch.setattr(ImageFile.ImageFile, "load", _boom)


def test_decode_exif_orientation_6_rotates() -> None:
    stored = Image.new("RGB", (60, 40), BLUE)
    stored.paste(RED, (0, 0, 10, 10))  # marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    img = upright_rgb(_save(stored, "JPEG", exif=exif.tobytes(), quality=95), 10_000_000)
    assert img.mode == "RGB"
    assert img.size == (40, 60)
    # After a clockwise turn the stored top-left sits at the top-right.
    assert img.getpixel((35, 4))[0] > 200 and img.getpixel((4, 4))[2] > 200


def test_decode_cmyk_jpeg() -> None:
    data = _save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    img = upright_rgb(data, 10_000_000)
    assert img.mode == "RGB"
    r, g, b = img.getpixel((16, 16))
    assert r > 230 and g < 30 and b < 30


def test_decode_palette_png_with_transparency() -> None:
    pal = Image.new("P", (20, 20), 0)
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pal.paste(1, (10, 0, 20, 20))
    data = _save(pal, "PNG", transparency=0)
    assert "transparency" in Image.open(io.BytesIO(data)).info
    img = upright_rgb(data, 10_000_000)  # a Pillow warning would fail here (warnings are errors)
    assert img.mode == "RGB"
    assert img.getpixel((15, 5)) == GREEN


def test_decode_la() -> None:
    la = Image.new("LA", (16, 16), (77, 10))
    img = upright_rgb(_save(la, "PNG"), 10_000_000)
    assert img.mode == "RGB"
    assert img.getpixel((3, 3)) == (77, 77, 77)


def test_decode_16bit_png_scales_instead_of_clipping() -> None:
    arr = np.zeros((8, 24), dtype=np.uint16)
    arr[:, 8:16] = 128 * 257
    arr[:, 16:] = 65535
    data = _save(Image.fromarray(arr), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    img = upright_rgb(data, 10_000_000)
    assert img.mode == "RGB"
    assert [img.getpixel((x, 4)) for x in (2, 10, 20)] == [(0, 0, 0), (128,) * 3, (255,) * 3]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_decode_animated_takes_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (24, 24), c) for c in (RED, GREEN, BLUE)]
    params = {"lossless": True} if fmt == "WEBP" else {}
    data = _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100,
                 loop=0, **params)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    img = upright_rgb(data, 10_000_000)
    assert img.mode == "RGB"
    assert img.getpixel((12, 12)) == RED


def test_decode_rgba_drops_alpha() -> None:
    img = upright_rgb(_save(Image.new("RGBA", (8, 8), (1, 2, 3, 0)), "PNG"), 10_000_000)
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (1, 2, 3)


def test_decode_truncated_jpeg_is_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    from skimage import data as skdata

    full = _save(Image.fromarray(skdata.astronaut()), "JPEG", quality=90)
    assert upright_rgb(full, 10_000_000).size == (512, 512)
    # Even if some other code turned truncated loading on, decode must refuse a cut file.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(InvalidImage):
        upright_rgb(full[: len(full) // 2], 10_000_000)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


@pytest.mark.parametrize("data", [
    b"",
    b"<!doctype html><html><body>Not found</body></html>",
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF",
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
    bytes(range(256)) * 4,
    b"\x89PNG\r\n\x1a\n",
], ids=["empty", "html", "svg", "pdf", "eps", "garbage", "png-magic-only"])
def test_decode_refuses_non_images(data: bytes) -> None:
    with pytest.raises(InvalidImage) as info:
        upright_rgb(data, 10_000_000)
    assert info.value.status == 422


@pytest.mark.timeout(60)
def test_decode_bomb_is_refused_before_decoding(no_full_decode: None) -> None:
    bomb = _one_bit_png(20_000, 20_000)
    assert len(bomb) < 200_000  # tiny file, 400 megapixels
    with pytest.raises(InputTooLarge) as info:
        upright_rgb(bomb, 10_000_000)
    assert info.value.status == 413


def test_decode_over_max_pixels_but_under_pillow_limit(no_full_decode: None) -> None:
    with pytest.raises(InputTooLarge) as info:
        upright_rgb(_one_bit_png(5_000, 3_000), 10_000_000)  # 15 MP: only our limit applies
    assert "5000x3000" in info.value.message


def test_decode_pillow_bomb_warning_and_error_do_not_escape(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    # Between 1x and 2x Pillow's limit it warns (an error under this suite's filters).
    assert upright_rgb(_one_bit_png(50, 30), 10_000).size == (50, 30)
    # Above 2x it raises DecompressionBombError: that must become InputTooLarge.
    with pytest.raises(InputTooLarge):
        upright_rgb(_one_bit_png(100, 100), 1_000_000)
