"""Colour management (worker/colour.py, decode, render, encode): profiles kept, CMYK converted.

The profiles are written by tools/icc.py: an Adobe-RGB-like wide-gamut one and a CMYK one.
"""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from shared.errors import InvalidImage
from tools import icc
from worker import colour
from worker.decode import upright_rgb
from worker.encode import image_bytes
from worker.render import composite

pytestmark = pytest.mark.unit

MAX_PIXELS = 25_000_000
SRGB = ImageCms.createProfile("sRGB")


def _save(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


@pytest.fixture(scope="module")
def srgb_photo() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (32, 48, 3), np.uint8), "RGB")


def test_an_rgb_profile_is_kept_and_the_model_gets_srgb(srgb_photo: Image.Image) -> None:
    adobe = icc.adobe_rgb()
    pixels = ImageCms.profileToProfile(srgb_photo, SRGB, icc.read(adobe), outputMode="RGB")
    img = upright_rgb(_save(pixels, "PNG", icc_profile=adobe), MAX_PIXELS)
    assert img.info["icc_profile"] == adobe
    assert np.array_equal(np.asarray(img), np.asarray(pixels))  # the stored values, as they are
    space = colour.space_of(img)
    assert not space.is_srgb and space.icc == adobe and space.note is None
    back = np.asarray(space.to_srgb(img), np.int16)
    assert np.abs(back - np.asarray(srgb_photo, np.int16)).mean() < 1.5


@pytest.mark.parametrize("data", [b"garbage" * 20, b"\x00" * 200, icc.cmyk()])
def test_a_broken_or_wrong_profile_is_ignored_with_a_note(data: bytes) -> None:
    img = upright_rgb(_save(Image.new("RGB", (8, 8), (9, 99, 199)), "PNG", icc_profile=data),
                      MAX_PIXELS)
    space = colour.space_of(img)
    assert space.is_srgb and space.icc is None
    assert space.note and "ignored" in space.note
    assert space.to_srgb(img) is img


def test_an_enormous_profile_is_ignored() -> None:
    img = Image.new("RGB", (8, 8))
    img.info["icc_profile"] = icc.adobe_rgb() + b"\x00" * colour.MAX_PROFILE_BYTES
    space = colour.space_of(img)
    assert space.is_srgb and "larger than" in (space.note or "")


def test_transforms_are_built_once_per_profile() -> None:
    img = Image.new("RGB", (4, 4))
    img.info["icc_profile"] = icc.adobe_rgb()
    first, again = colour.space_of(img), colour.space_of(img.copy())
    assert first._to_srgb is again._to_srgb and first._from_srgb is again._from_srgb
    img.info["icc_profile"] = icc.display_p3()
    assert colour.space_of(img)._to_srgb is not first._to_srgb
    cached = len(colour._CACHED)
    img.info["icc_profile"] = icc.adobe_rgb() + b"\x00" * colour.MAX_PROFILE_BYTES
    assert colour.space_of(img).is_srgb and len(colour._CACHED) == cached  # not kept


def test_a_grey_image_and_no_profile_are_srgb_without_a_note() -> None:
    assert colour.space_of(Image.new("RGB", (4, 4))) == colour.SRGB
    grey = upright_rgb(_save(Image.new("L", (4, 4), 90), "PNG", icc_profile=b"junk"), MAX_PIXELS)
    assert colour.space_of(grey).note is None


def test_cmyk_with_a_profile_converts_through_it(srgb_photo: Image.Image) -> None:
    cmyk_profile = icc.cmyk()
    data = _save(srgb_photo.convert("CMYK"), "JPEG", quality=95, icc_profile=cmyk_profile)
    stored = Image.open(io.BytesIO(data))
    expected = ImageCms.profileToProfile(stored, icc.read(cmyk_profile), SRGB,
                                         renderingIntent=ImageCms.Intent.PERCEPTUAL,
                                         outputMode="RGB")
    img = upright_rgb(data, MAX_PIXELS)
    assert "icc_profile" not in img.info and colour.space_of(img) == colour.SRGB
    assert np.array_equal(np.asarray(img), np.asarray(expected))
    naive = np.asarray(stored.convert("RGB"), np.int16)
    assert np.abs(np.asarray(img, np.int16) - naive).mean() > 5  # not the naive formula


def test_plain_cmyk_without_adobes_marker_is_not_inverted(srgb_photo: Image.Image) -> None:
    cmyk = srgb_photo.convert("CMYK")
    # Pillow writes Adobe's inverted CMYK with an APP14 "Adobe" marker; writing the inverted
    # image and dropping the marker leaves a file that stores plain CMYK.
    data = _save(Image.eval(cmyk, lambda v: 255 - v), "JPEG", quality=95)
    at = data.find(b"\xff\xee")
    assert at > 0
    length = int.from_bytes(data[at + 2:at + 4], "big")
    plain = data[:at] + data[at + 2 + length:]
    with_marker = np.asarray(upright_rgb(_save(cmyk, "JPEG", quality=95), MAX_PIXELS), np.int16)
    without = np.asarray(upright_rgb(plain, MAX_PIXELS), np.int16)
    assert np.abs(with_marker - without).mean() < 3


def test_background_colours_are_converted_into_the_space() -> None:
    adobe = icc.adobe_rgb()
    img = Image.new("RGB", (20, 10), (50, 60, 70))
    img.info["icc_profile"] = adobe
    space = colour.space_of(img)
    mask = Image.new("L", (20, 10), 0)
    out = composite(img, mask, "#ff0000", None, None, "png", space)
    red = out.getpixel((0, 0))
    assert 210 <= red[0] <= 225 and red[1] < 8 and red[2] < 8  # sRGB red inside Adobe RGB
    grad = composite(img, mask, None, "#ff0000:#0000ff", "horizontal", "png", space)
    assert grad.getpixel((0, 0)) == red
    assert composite(img, mask, "#ff0000", None, None, "png").getpixel((0, 0)) == (255, 0, 0)


@pytest.mark.parametrize(("fmt", "mode"), [("png", "RGBA"), ("png", "RGB"), ("jpg", "RGB"),
                                           ("webp", "RGBA"), ("avif", "RGBA")])
def test_the_profile_is_embedded_in_every_format(fmt: str, mode: str) -> None:
    adobe = icc.adobe_rgb()
    data, _ = image_bytes(Image.new(mode, (16, 16)), fmt, icc=adobe)
    back = Image.open(io.BytesIO(data))
    back.load()
    assert back.info.get("icc_profile") == adobe
    data, _ = image_bytes(Image.new(mode, (16, 16)), fmt)
    assert not Image.open(io.BytesIO(data)).info.get("icc_profile")


def test_a_16_bit_png_is_rounded_to_8_bits_and_keeps_its_profile() -> None:
    from tests.security.hostile_images import _chunk, png_raw

    adobe = icc.adobe_rgb()
    wide = np.full((4, 6, 3), 0xFF00, ">u2")  # 65280 / 257 = 254.0; its high byte is 255
    wide[0, 0] = (0, 65535, 0x8000)  # 0, 255, 127.5 -> 128
    rows = b"".join(b"\x00" + wide[y].tobytes() for y in range(4))
    iccp = b"ICC Profile\x00\x00" + zlib.compress(adobe)

    img = upright_rgb(png_raw(6, 4, 16, 2, rows, _chunk(b"iCCP", iccp)), MAX_PIXELS)
    assert img.getpixel((1, 1)) == (254, 254, 254)  # Pillow alone gives 255 (the high byte)
    assert img.getpixel((0, 0)) == (0, 255, 128)
    assert img.info["icc_profile"] == adobe
    with pytest.raises(InvalidImage):
        upright_rgb(png_raw(6, 4, 16, 2, rows)[:-30], MAX_PIXELS)
