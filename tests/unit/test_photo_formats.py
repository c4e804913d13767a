"""HEIC/HEIF and AVIF inputs (worker/decode.py) and the upload sniffing (gateway/forms.py).

Real files made here: a photo from skimage encoded as HEIC (pillow-heif) and AVIF (Pillow's
libavif), decoded like a PNG of the same photo; a declared size past the limits refused from
the container's header, a truncated file refused as not an image.
"""

from __future__ import annotations

import io
import struct

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from shared.errors import InputTooLarge, InvalidImage
from worker.decode import upright_rgb

pytestmark = pytest.mark.unit

MAX_PIXELS = 25_000_000


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    """image as HEIF (HEIC) or AVIF bytes."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


def declare_size(data: bytes, width: int, height: int) -> bytes:
    """The file with its 'ispe' box (the image's declared size) rewritten."""
    out = bytearray(data)
    at = out.find(b"ispe")
    assert at > 0
    struct.pack_into(">II", out, at + 8, width, height)  # after the box's version and flags
    return bytes(out)


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    from skimage import data as skdata

    return Image.fromarray(skdata.astronaut()).resize((256, 256), Image.Resampling.LANCZOS)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif_decode_like_the_png(astronaut: Image.Image, fmt: str) -> None:
    img = upright_rgb(encode(astronaut, fmt, quality=95), MAX_PIXELS)
    assert img.mode == "RGB" and img.size == astronaut.size
    diff = np.abs(np.asarray(img, np.int16) - np.asarray(astronaut, np.int16))
    assert diff.mean() < 3.0  # lossy at quality 95: a few levels on average


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_heic_and_avif_orientation_is_applied(fmt: str) -> None:
    stored = Image.new("RGB", (64, 32), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 16, 16))  # marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img = upright_rgb(encode(stored, fmt, quality=95, exif=exif.tobytes()), MAX_PIXELS)
    assert img.size == (32, 64)
    assert img.getpixel((28, 4))[0] > 200 and img.getpixel((4, 4))[2] > 200


def test_heic_with_a_huge_declared_size_is_refused_before_decoding(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def _boom(self: object) -> None:
        raise AssertionError("pixel data was decoded")
    monkeypatch.setattr(pillow_heif.as_plugin.HeifImageFile, "load", _boom)
    small = encode(Image.new("RGB", (64, 64), (0, 0, 255)), "HEIF")  # 64x64: no clean aperture
    for side in (6000, 30_000):  # past MAX_PIXELS; past Pillow's own bomb limit
        with pytest.raises(InputTooLarge):
            upright_rgb(declare_size(small, side, side), MAX_PIXELS)


def test_avif_with_absurd_declared_dimensions_is_refused() -> None:
    small = encode(Image.new("RGB", (64, 64), (0, 0, 255)), "AVIF")
    with pytest.raises(InputTooLarge):
        upright_rgb(declare_size(small, 16_000, 16_000), MAX_PIXELS)
    with pytest.raises(InvalidImage, match="HEIC/HEIF or AVIF"):  # past libavif's own limit
        upright_rgb(declare_size(small, 100_000, 100_000), MAX_PIXELS)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_truncated_heic_and_avif_are_not_images(astronaut: Image.Image, fmt: str) -> None:
    data = encode(astronaut, fmt, quality=80)
    for cut in (len(data) // 2, 40):
        with pytest.raises(InvalidImage):
            upright_rgb(data[:cut], MAX_PIXELS)


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_upload_sniffing_lets_heic_and_avif_through(fmt: str) -> None:
    from gateway.forms import Upload, _checked
    from shared.config import Settings

    data = encode(Image.new("RGB", (16, 16)), fmt)
    upload = Upload("image", io.BytesIO(data), len(data), "image/heic")
    settings = Settings(app_env="development", upload_max_bytes=1 << 20)
    assert _checked(upload, settings) is upload
    fake = b"\x00\x00\x00\x18ftypqt  " + b"\x00" * 32  # a QuickTime movie: not an image
    with pytest.raises(InvalidImage, match="HEIC/HEIF or AVIF"):
        _checked(Upload("image", io.BytesIO(fake), len(fake), "video/quicktime"), settings)
