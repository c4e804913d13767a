"""16-bit photos (48- and 64-bit RGB[A] PNG and TIFF): kept at 16 bits up to the 8-bit output.

Pillow reads such files at 8 bits by keeping each sample's high byte (truncating, before any
colour conversion). Here the samples are decoded at 16 bits (libpng and libtiff, through
imagecodecs), oriented and resized at that depth, and rounded to 8 bits once (v / 257, to
nearest) for the 8-bit picture the pipeline works on. The 16-bit pixels travel in that
picture's info (`WIDE`), so that a conversion through the photo's ICC profile
(worker/colour.py: the model's sRGB copy, color_space=srgb) starts from them and rounds once,
at its end. 16-bit greyscale is rounded once by worker/decode.py (a grey profile is not kept).
"""

from __future__ import annotations

import imagecodecs
import numpy as np
from PIL import Image

from shared.errors import InvalidImage

WIDE = "rgb16"  # info key: the picture's pixels as an (h, w, 3) uint16 array

# Pillow's raw modes for 16-bit RGB(A) samples: PNG's are big-endian, TIFF's any order.
_PNG16 = ("RGB;16B", "RGBA;16B")
_TIFF16 = ("RGB;16B", "RGB;16L", "RGB;16N", "RGBA;16B", "RGBA;16L", "RGBA;16N")
_ORIENTATION = 0x0112


def is_wide(header: Image.Image) -> bool:
    """Whether an opened (not yet loaded) PNG or TIFF stores 16-bit RGB(A) samples."""
    if not header.tile:
        return False
    args = header.tile[0].args
    if header.format == "PNG":
        return args in _PNG16
    rawmode = args[0] if isinstance(args, tuple) and args else args
    return header.format == "TIFF" and rawmode in _TIFF16


def decode(data: bytes, header: Image.Image) -> Image.Image | None:
    """The 8-bit RGB picture (rounded once, upright) with its 16-bit pixels and the header's
    info (the ICC profile); None where libtiff reads the file differently from Pillow (the
    8-bit path then decodes it)."""
    width, height = header.size
    if header.format == "PNG":
        wide = imagecodecs.png_decode(data)
    else:
        try:
            wide = imagecodecs.tiff_decode(data, index=0)
        except (imagecodecs.TiffError, ValueError, RuntimeError):
            return None  # a layout libtiff takes differently: Pillow's own path decides
    if wide.dtype != np.uint16 or wide.ndim != 3 or wide.shape[:2] != (height, width):
        if header.format == "PNG":
            raise InvalidImage("The input PNG does not match its header.")
        return None
    wide = _orient(np.ascontiguousarray(wide[:, :, :3]), _orientation(header))
    return with_wide(wide, dict(header.info))


def with_wide(wide: np.ndarray, info: dict) -> Image.Image:
    """The 8-bit picture of 16-bit pixels (rounded once), carrying them and info."""
    out = Image.fromarray(to8(wide), "RGB")
    out.info = {**info, WIDE: wide}
    return out


def to8(wide: np.ndarray) -> np.ndarray:
    """16-bit samples -> 8-bit, rounded to nearest (v / 257): the one rounding."""
    return ((wide.astype(np.uint32) + 128) // 257).astype(np.uint8)


def resize(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize a picture that carries 16-bit pixels at 16 bits (Lanczos, as the 8-bit path)."""
    wide = image.info[WIDE]
    channels = [np.asarray(Image.fromarray(wide[:, :, c].astype(np.float32), "F")
                           .resize(size, Image.Resampling.LANCZOS)) for c in range(3)]
    small = np.rint(np.clip(np.stack(channels, axis=2), 0, 65535)).astype(np.uint16)
    return with_wide(small, {k: v for k, v in image.info.items() if k != WIDE})


def _orientation(header: Image.Image) -> int:
    try:
        return int(header.getexif().get(_ORIENTATION, 1))
    except (OSError, ValueError, KeyError, TypeError, SyntaxError):
        return 1  # a broken EXIF block: as stored (as worker/decode.py does)


def _orient(wide: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation 2..8 applied as ImageOps.exif_transpose does (rot90 is anticlockwise)."""
    steps = {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
             5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
             7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1], 8: lambda a: np.rot90(a, 1)}
    step = steps.get(orientation)
    return np.ascontiguousarray(step(wide)) if step else wide
