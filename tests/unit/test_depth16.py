"""16-bit photos (worker/depth16.py): decoded, oriented, resized and converted at 16 bits.

The photo is a smooth 16-bit gradient in an Adobe-RGB-like space (tools/icc.py), its profile
embedded. Converted to sRGB, the pipeline's pixels must match a float reference conversion
(numpy: the profile's curves and matrices) within one level of 255; the former path (8 bits
first, then LittleCMS's 8-bit transform) is off by several levels on the same file.
"""

from __future__ import annotations

import imagecodecs
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from tests.reference.colour_float import adobe_to_srgb as float_reference
from tests.security.hostile_images import _chunk, iccp_chunk, png16
from tools import icc
from worker import colour, depth16
from worker.decode import photo, upright_rgb

pytestmark = pytest.mark.unit

MAX_PIXELS = 25_000_000
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def gradient16(width: int = 512, height: int = 256) -> np.ndarray:
    """Smooth 16-bit ramps of each channel, saturated greens and reds included."""
    yy, xx = np.mgrid[0:height, 0:width]
    x, y = xx / (width - 1), yy / (height - 1)
    rgb = np.stack([x, y, 1 - x * y * 0.5 - 0.3 * x], axis=2)
    return np.rint(np.clip(rgb, 0, 1) * 65535).astype(np.uint16)


def test_a_16_bit_photo_converts_to_srgb_within_a_level_of_a_float_reference() -> None:
    wide = gradient16()
    img = upright_rgb(png16(wide, iccp_chunk(icc.adobe_rgb())), MAX_PIXELS)
    assert np.array_equal(np.asarray(img), depth16.to8(wide))  # its own space: rounded once
    space = colour.space_of(img)
    out = np.asarray(space.to_srgb(img)).astype(np.float64)
    reference = float_reference(wide)
    assert np.abs(out - reference).max() <= 1.0
    # The former path, 8 bits first and then an 8-bit transform, misses by several levels.
    transform = ImageCms.buildTransform(icc.read(icc.adobe_rgb()), SRGB, "RGB", "RGB")
    eight_first = ImageCms.applyTransform(Image.fromarray(depth16.to8(wide)), transform)
    assert np.abs(np.asarray(eight_first) - reference).max() > 2.0


def test_a_16_bit_tiff_takes_the_same_path() -> None:
    wide = gradient16(64, 32)
    for compression in (None, "deflate"):
        data = imagecodecs.tiff_encode(wide, compression=compression, photometric="rgb",
                                       iccprofile=icc.adobe_rgb())
        img = upright_rgb(data, MAX_PIXELS)
        assert np.array_equal(img.info[depth16.WIDE], wide)
        assert np.array_equal(np.asarray(img), depth16.to8(wide))
        assert img.info["icc_profile"] == icc.adobe_rgb()
        assert np.abs(np.asarray(colour.space_of(img).to_srgb(img))
                      - float_reference(wide)).max() <= 1.0


@pytest.mark.parametrize("orientation", [1, 2, 3, 4, 5, 6, 7, 8])
def test_the_exif_orientation_is_applied_at_16_bits(orientation: int) -> None:
    wide = gradient16(24, 16)
    exif = Image.Exif()
    exif[0x0112] = orientation
    img = upright_rgb(png16(wide, _chunk(b"eXIf", exif.tobytes())), MAX_PIXELS)
    # The same picture at 8 bits, oriented by Pillow: the reference for each orientation.
    stored = Image.fromarray(depth16.to8(wide))
    stored.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(stored))
    assert np.array_equal(np.asarray(img), expected)
    assert np.array_equal(depth16.to8(img.info[depth16.WIDE]), expected)


def test_a_16_bit_photo_is_resized_at_16_bits() -> None:
    wide = gradient16(800, 400)  # 320000 pixels; "preview" is 250000
    img, factor = photo(png16(wide), {"size": "preview"}, MAX_PIXELS)
    assert factor < 1 and img.size == img.info[depth16.WIDE].shape[1::-1]
    assert np.array_equal(np.asarray(img), depth16.to8(img.info[depth16.WIDE]))
    # Lanczos at 16 bits, against Pillow's on the float samples: the same picture.
    red = np.asarray(Image.fromarray(wide[:, :, 0].astype(np.float32), "F")
                     .resize(img.size, Image.Resampling.LANCZOS))
    assert np.abs(img.info[depth16.WIDE][:, :, 0] - np.clip(red, 0, 65535)).max() <= 0.5


def test_a_truncated_16_bit_png_is_still_refused() -> None:
    from shared.errors import InvalidImage

    with pytest.raises(InvalidImage):
        upright_rgb(png16(gradient16(32, 16))[:-30], MAX_PIXELS)
