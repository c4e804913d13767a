"""Decode: image bytes -> an upright 8-bit RGB image within the pixel limits.

Only the raster formats people upload are opened (HEIC/HEIF and AVIF, the phones' and the web's,
included), a truncated file or a decompression bomb is refused (before its pixels are decoded),
the EXIF orientation is applied, and every mode becomes 8-bit RGB for the model (an input alpha
is dropped: the mask decides); a 16-bit RGB photo also keeps its 16-bit pixels
(worker/depth16.py). The job's photo is then shrunk to the output size it asked for
(`size`), before segmentation, so that the model works on the pixels that are delivered; a
background photo is decoded as it is (worker/render.py scales it).
"""

from __future__ import annotations

import io
import math
import struct
import warnings

import imagecodecs
import numpy as np
import pillow_heif
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from shared.errors import IMAGE_FORMATS_TEXT, InputTooLarge, InvalidImage
from shared.options import OutputOptions, size_limit
from worker import colour, depth16, png_profile

# HEIC/HEIF (phones) through pillow-heif's opener; AVIF is Pillow's own (libavif). Both read the
# declared size from the container without decoding, so the pixel checks below refuse a bomb
# before its pixels are decoded, as for every other format.
pillow_heif.register_heif_opener()

# Only raster formats people upload; keeps EPS (Ghostscript) and exotic decoders unreachable.
# "JPEG" also opens MPO (phone-camera JPEGs): Pillow's JPEG opener returns those.
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF",
                                    "AVIF")

# What Pillow's decoders raise on malformed input (plugins differ; struct.error is common).
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
                  IndexError, KeyError, TypeError, ZeroDivisionError, struct.error,
                  imagecodecs.PngError)


def photo(data: bytes, options: OutputOptions, max_pixels: int) -> tuple[Image.Image, float]:
    """The job's photo: decoded, then shrunk to the requested size; returns (image, factor)."""
    image = upright_rgb(data, max_pixels)
    return limit_pixels(image, size_limit(options.get("size"), max_pixels))


def upright_rgb(data: bytes, max_pixels: int) -> Image.Image:
    """Decode image bytes into an upright RGB image, refusing bombs and non-images."""
    if not data:
        raise InvalidImage("The input is empty.")
    # A truncated upload must be refused, not silently padded with grey.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    # A PNG profile Pillow would refuse the file for (past 1 MB inflated) or drop: cut first.
    data, profile, note = png_profile.bounded(data)
    try:
        with warnings.catch_warnings():
            # Our own max_pixels check replaces Pillow's warning; its hard error is caught below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as img:
                width, height = img.size
                if width <= 0 or height <= 0:
                    raise InvalidImage("The input image has no pixels.")
                if width * height > max_pixels:
                    raise _too_large(width, height, max_pixels)
                img.seek(0)  # animated GIF/WebP: the first frame only
                if profile is not None:
                    img.info["icc_profile"] = profile
                if note:
                    img.info["colour_note"] = note  # worker/colour.py: for the job's record
                if depth16.is_wide(img):
                    wide = depth16.decode(data, img)
                    if wide is not None:
                        return wide
                img.load()
                return _to_rgb(_upright(img), img.format == "JPEG")
    except Image.DecompressionBombError as exc:
        raise InputTooLarge(f"The input image exceeds the limit of {max_pixels} pixels.") from exc
    except (InvalidImage, InputTooLarge):
        raise
    except _DECODE_ERRORS as exc:
        raise InvalidImage(f"The input is not a decodable image ({IMAGE_FORMATS_TEXT}), or it "
                           "is truncated.") from exc


def _too_large(width: int, height: int, max_pixels: int) -> InputTooLarge:
    return InputTooLarge(f"The input image is {width}x{height} pixels; "
                         f"the limit is {max_pixels} pixels.")


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(img)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError, struct.error):
        return img


def _to_rgb(img: Image.Image, jpeg: bool = False) -> Image.Image:
    """Convert any mode to 8-bit RGB; an input alpha is dropped (the mask wins).

    An RGB image keeps its pixel values and its ICC profile (info["icc_profile"]: the output
    keeps its space, worker/colour.py); CMYK is converted to sRGB through its profile; a grey
    image is read as sRGB grey.
    """
    mode = img.mode
    if mode == "CMYK":
        if jpeg and "adobe" not in img.info:
            # Pillow reads every CMYK JPEG as Adobe's inverted CMYK; without Adobe's APP14
            # marker the file stores plain CMYK: undo that inversion.
            img = Image.eval(img, lambda v: 255 - v)
        return colour.cmyk_to_rgb(img)
    if mode not in ("RGB", "RGBA", "P", "PA"):
        img.info.pop("icc_profile", None)  # a grey (or other) profile: not an RGB space
    if mode == "RGB":
        return img.copy()
    if mode.startswith("I;16") or mode == "I":
        # 16-bit greyscale (PNG/TIFF): scale 0..65535 to 0..255 instead of clipping at 255.
        arr = np.asarray(img).astype(np.float64)
        grey = np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "F":
        grey = np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode in ("P", "PA") or "A" in mode or "a" in mode or "transparency" in img.info:
        # Through RGBA: Pillow warns when converting a palette with transparency straight to RGB.
        return img.convert("RGBA").convert("RGB")
    return img.convert("RGB")


def limit_pixels(image: Image.Image, max_pixels: int) -> tuple[Image.Image, float]:
    """Shrink image (keeping its aspect) to at most max_pixels; returns (image, factor)."""
    width, height = image.size
    if width * height <= max_pixels:
        return image, 1.0
    factor = math.sqrt(max_pixels / (width * height))
    size = (max(1, math.floor(width * factor)), max(1, math.floor(height * factor)))
    # Rounding down twice can still leave one row too many: step down until within the limit.
    while size[0] * size[1] > max_pixels:
        size = (max(1, size[0] - 1), size[1]) if size[0] >= size[1] else (size[0], size[1] - 1)
    if depth16.WIDE in image.info:  # a 16-bit photo: resized at 16 bits, rounded once
        return depth16.resize(image, size), size[0] / width
    return image.resize(size, Image.Resampling.LANCZOS), size[0] / width
