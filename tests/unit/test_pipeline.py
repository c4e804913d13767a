"""Unit tests for worker.pipeline (decode / segment / composite / encode) and shared.colors."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from shared.colors import parse_gradient, parse_hex_color
from shared.errors import InputTooLarge, InvalidImage, InvalidParameter
from worker import pipeline
from worker.pipeline import composite, decode, encode

pytestmark = pytest.mark.unit

MODEL_DIR = Path(__file__).resolve().parents[2] / ".models"
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


# ---------------------------------------------------------------- decode

def test_decode_exif_orientation_6_rotates() -> None:
    stored = Image.new("RGB", (60, 40), BLUE)
    stored.paste(RED, (0, 0, 10, 10))  # marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    img = decode(_save(stored, "JPEG", exif=exif.tobytes(), quality=95), 10_000_000)
    assert img.mode == "RGB"
    assert img.size == (40, 60)
    # After a clockwise turn the stored top-left sits at the top-right.
    assert img.getpixel((35, 4))[0] > 200 and img.getpixel((4, 4))[2] > 200


def test_decode_cmyk_jpeg() -> None:
    data = _save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    img = decode(data, 10_000_000)
    assert img.mode == "RGB"
    r, g, b = img.getpixel((16, 16))
    assert r > 230 and g < 30 and b < 30


def test_decode_palette_png_with_transparency() -> None:
    pal = Image.new("P", (20, 20), 0)
    pal.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    pal.paste(1, (10, 0, 20, 20))
    data = _save(pal, "PNG", transparency=0)
    assert "transparency" in Image.open(io.BytesIO(data)).info
    img = decode(data, 10_000_000)  # a Pillow warning would fail here (warnings are errors)
    assert img.mode == "RGB"
    assert img.getpixel((15, 5)) == GREEN


def test_decode_la() -> None:
    la = Image.new("LA", (16, 16), (77, 10))
    img = decode(_save(la, "PNG"), 10_000_000)
    assert img.mode == "RGB"
    assert img.getpixel((3, 3)) == (77, 77, 77)


def test_decode_16bit_png_scales_instead_of_clipping() -> None:
    arr = np.zeros((8, 24), dtype=np.uint16)
    arr[:, 8:16] = 128 * 257
    arr[:, 16:] = 65535
    data = _save(Image.fromarray(arr), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    img = decode(data, 10_000_000)
    assert img.mode == "RGB"
    assert [img.getpixel((x, 4)) for x in (2, 10, 20)] == [(0, 0, 0), (128,) * 3, (255,) * 3]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_decode_animated_takes_first_frame(fmt: str) -> None:
    frames = [Image.new("RGB", (24, 24), c) for c in (RED, GREEN, BLUE)]
    params = {"lossless": True} if fmt == "WEBP" else {}
    data = _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100,
                 loop=0, **params)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 3
    img = decode(data, 10_000_000)
    assert img.mode == "RGB"
    assert img.getpixel((12, 12)) == RED


def test_decode_rgba_drops_alpha() -> None:
    img = decode(_save(Image.new("RGBA", (8, 8), (1, 2, 3, 0)), "PNG"), 10_000_000)
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (1, 2, 3)


def test_decode_truncated_jpeg_is_invalid(monkeypatch: pytest.MonkeyPatch) -> None:
    from skimage import data as skdata

    full = _save(Image.fromarray(skdata.astronaut()), "JPEG", quality=90)
    assert decode(full, 10_000_000).size == (512, 512)
    # Even if some other code turned truncated loading on, decode must refuse a cut file.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(InvalidImage):
        decode(full[: len(full) // 2], 10_000_000)
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
        decode(data, 10_000_000)
    assert info.value.status == 422


@pytest.mark.timeout(60)
def test_decode_bomb_is_refused_before_decoding(no_full_decode: None) -> None:
    bomb = _one_bit_png(20_000, 20_000)
    assert len(bomb) < 200_000  # tiny file, 400 megapixels
    with pytest.raises(InputTooLarge) as info:
        decode(bomb, 10_000_000)
    assert info.value.status == 413


def test_decode_over_max_pixels_but_under_pillow_limit(no_full_decode: None) -> None:
    with pytest.raises(InputTooLarge) as info:
        decode(_one_bit_png(5_000, 3_000), 10_000_000)  # 15 MP: only our limit applies
    assert "5000x3000" in info.value.message


def test_decode_pillow_bomb_warning_and_error_do_not_escape(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)
    # Between 1x and 2x Pillow's limit it warns (an error under this suite's filters).
    assert decode(_one_bit_png(50, 30), 10_000).size == (50, 30)
    # Above 2x it raises DecompressionBombError: that must become InputTooLarge.
    with pytest.raises(InputTooLarge):
        decode(_one_bit_png(100, 100), 1_000_000)


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
    arr = np.asarray(pipeline.gradient((50, 50), (0, 0, 0), (255, 255, 255), "diagonal-tl-br"))
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


# ---------------------------------------------------------------- encode

@pytest.mark.parametrize(("fmt", "pil_format", "content_type", "mode"), [
    ("png", "PNG", "image/png", "RGBA"),
    ("png", "PNG", "image/png", "RGB"),
    ("jpg", "JPEG", "image/jpeg", "RGB"),
    ("webp", "WEBP", "image/webp", "RGBA"),
    ("webp", "WEBP", "image/webp", "RGB"),
])
def test_encode_round_trip(fmt: str, pil_format: str, content_type: str, mode: str) -> None:
    image, mask = _scene(width=64, height=48)
    mask.paste(255, (0, 0, 32, 48))
    out = composite(image, mask, None if mode == "RGBA" else "#123456", None, None, fmt)
    assert out.mode == mode
    data, ctype = encode(out, fmt)
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
    assert len(encode(noisy, "png", 0)[0]) > len(encode(noisy, "png", 9)[0])
    data, _ = encode(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), "jpg")
    assert Image.open(io.BytesIO(data)).convert("RGB").getpixel((4, 4))[0] > 245  # white
    with pytest.raises(InvalidParameter):
        encode(noisy, "gif")


def test_extensions() -> None:
    assert pipeline.EXTENSIONS == {"png": "png", "jpg": "jpg", "webp": "webp"}
