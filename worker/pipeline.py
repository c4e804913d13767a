"""Pure image steps over bytes and PIL images: decode, segment, composite, encode."""

from __future__ import annotations

import io
import struct
import warnings

import imagecodecs
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from shared.colors import parse_gradient, parse_gradient_direction, parse_hex_color
from shared.errors import InputTooLarge, InvalidImage, InvalidParameter
from worker import refine
from worker.inference import ProbabilityModel

# output_format -> file extension of the stored result.
EXTENSIONS: dict[str, str] = {"png": "png", "jpg": "jpg", "webp": "webp"}
CONTENT_TYPES: dict[str, str] = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}

# Only raster formats people upload; keeps EPS (Ghostscript) and exotic decoders unreachable.
# "JPEG" also opens MPO (phone-camera JPEGs): Pillow's JPEG opener returns those.
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")

_WHITE = (255, 255, 255)
# What Pillow's decoders raise on malformed input (plugins differ; struct.error is common).
_DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
                  IndexError, KeyError, TypeError, ZeroDivisionError, struct.error)


def decode(data: bytes, max_pixels: int) -> Image.Image:
    """Decode image bytes into an upright RGB image, refusing bombs and non-images."""
    if not data:
        raise InvalidImage("The input is empty.")
    # A truncated upload must be refused, not silently padded with grey.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
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
                img.load()
                return _to_rgb(_upright(img))
    except Image.DecompressionBombError as exc:
        raise InputTooLarge(f"The input image exceeds the limit of {max_pixels} pixels.") from exc
    except (InvalidImage, InputTooLarge):
        raise
    except _DECODE_ERRORS as exc:
        raise InvalidImage("The input is not a decodable image (PNG, JPEG, WebP, GIF, BMP "
                           "or TIFF), or it is truncated.") from exc


def _too_large(width: int, height: int, max_pixels: int) -> InputTooLarge:
    return InputTooLarge(f"The input image is {width}x{height} pixels; "
                         f"the limit is {max_pixels} pixels.")


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; a broken EXIF block leaves the image as stored."""
    try:
        return ImageOps.exif_transpose(img)
    except (OSError, ValueError, KeyError, TypeError, SyntaxError, struct.error):
        return img


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any mode to 8-bit RGB for the model; an input alpha is dropped (the mask wins)."""
    mode = img.mode
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


def segment(image: Image.Image, segmenter: ProbabilityModel, refine_mode: str = "guided",
            flip: bool = False) -> Image.Image:
    """The subject's alpha for an RGB image (mode "L", same size).

    refine_mode "guided" snaps the model's low-resolution map to the photo's edges at full
    resolution (worker/refine.py); "none" does what rembg
    does (8-bit map, Lanczos stretch), so that its output matches rembg.remove()'s. flip
    also runs the mirrored photo and averages the two maps (test-time augmentation).
    """
    prob = segmenter.probability(image, flip=flip)
    if refine_mode == "guided":
        return Image.fromarray(refine.guided_alpha(image, prob), "L")
    small = Image.fromarray((np.clip(prob, 0.0, 1.0) * 255).astype(np.uint8), "L")
    return small.resize(image.size, Image.Resampling.LANCZOS)


def composite(image: Image.Image, mask: Image.Image, bg_color: str | None,
              bg_gradient: str | None, gradient_direction: str | None,
              output_format: str) -> Image.Image:
    """Cut the subject out with mask and place it on the requested background (or none)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    if mask.mode != "L":
        mask = mask.convert("L")
    if mask.size != image.size:
        raise ValueError("mask and image sizes differ")

    if bg_color:
        background = Image.new("RGB", image.size, _color(bg_color, "bg_color"))
    elif bg_gradient:
        try:
            first, second = parse_gradient(bg_gradient)
        except ValueError as exc:
            raise InvalidParameter("bg_gradient", f"bg_gradient: {exc}.") from exc
        try:
            direction = parse_gradient_direction(gradient_direction)
        except ValueError as exc:
            raise InvalidParameter("gradient_direction", f"{exc}.") from exc
        background = gradient(image.size, first, second, direction)
    elif output_format == "jpg":
        background = Image.new("RGB", image.size, _WHITE)  # JPEG has no alpha
    else:
        return _transparent_cutout(image, mask)

    # Blend: out = subject * alpha + background * (1 - alpha).
    background.paste(image, (0, 0), mask)
    return background


def _color(value: str, param: str) -> tuple[int, int, int]:
    try:
        return parse_hex_color(value)
    except ValueError as exc:
        raise InvalidParameter(param, f"{param}: {exc}.") from exc


def _png(image: Image.Image, level: int, strategy: str) -> bytes:
    """PNG through libpng (imagecodecs): the Paeth filter on every row, and zlib's strategy.

    Measured on photo cutouts (make bench): Paeth + Z_RLE is 2x faster than Pillow's encoder
    at its fastest setting (it picks a filter per row) and 6x faster than its default level 6,
    with files 4-8% larger than rembg's own output.
    """
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    return imagecodecs.png_encode(np.asarray(image), level=level,
                                  strategy=ZLIB_STRATEGIES[strategy],
                                  filter=imagecodecs.PNG.FILTER.PAETH)


def _transparent_cutout(image: Image.Image, mask: Image.Image) -> Image.Image:
    """RGBA with mask as alpha; fully transparent pixels get RGB 0 (no hidden colour, smaller)."""
    # Pillow's C paths, no numpy copies: ~5x faster than dstack + boolean indexing at 12 MP.
    keep = mask.point(_NONZERO_LUT)
    out = Image.composite(image, Image.new("RGB", image.size, 0), keep)
    out.putalpha(mask)
    return out


_NONZERO_LUT = [0] + [255] * 255


def gradient(size: tuple[int, int], first: tuple[int, int, int], second: tuple[int, int, int],
             direction: str) -> Image.Image:
    """Linear RGB gradient whose end pixels are exactly first and second."""
    width, height = size
    # 0..1 along each axis; a one-pixel axis stays at 0. x/(n-1) is exactly 1.0 at the end.
    fx = np.arange(width, dtype=np.float32) / max(width - 1, 1)
    fy = np.arange(height, dtype=np.float32) / max(height - 1, 1)
    if direction == "vertical":
        t = np.broadcast_to(fy[:, None], (height, width))
    elif direction == "horizontal":
        t = np.broadcast_to(fx[None, :], (height, width))
    elif direction in ("diagonal-tl-br", "diagonal-bl-tr"):
        if direction == "diagonal-bl-tr":
            fy = fy[::-1]  # the bottom row is the start
        # Like CSS "to bottom right": the midline joins the two other corners.
        if width > 1 and height > 1:
            t = (fx[None, :] + fy[:, None]) * np.float32(0.5)
        else:
            t = fx[None, :] + fy[:, None]  # one axis is all zeros
    else:
        raise InvalidParameter("gradient_direction")
    out = np.empty((height, width, 3), dtype=np.uint8)
    for channel in range(3):
        start, end = np.float32(first[channel]), np.float32(second[channel])
        out[:, :, channel] = np.rint(start + (end - start) * t)
    return Image.fromarray(out, "RGB")


# zlib strategies for PNG. Z_RLE suits cutouts (long runs of zeroed transparent pixels).
ZLIB_STRATEGIES = {"default": 0, "filtered": 1, "huffman": 2, "rle": 3, "fixed": 4}


def encode(image: Image.Image, output_format: str, png_compress_level: int = 6,
           png_strategy: str = "rle") -> tuple[bytes, str]:
    """Encode to png/jpg/webp; returns (bytes, content type)."""
    buf = io.BytesIO()
    if output_format == "png":
        return _png(image, png_compress_level, png_strategy), CONTENT_TYPES["png"]
    elif output_format == "jpg":
        if image.mode in ("RGBA", "LA", "PA", "P"):
            # Flatten on white rather than letting transparent pixels turn black.
            flat = Image.new("RGB", image.size, _WHITE)
            rgba = image.convert("RGBA")
            flat.paste(rgba, (0, 0), rgba)
            image = flat
        elif image.mode != "RGB":
            image = image.convert("RGB")
        image.save(buf, format="JPEG", quality=90)
    elif output_format == "webp":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        image.save(buf, format="WEBP", lossless=False, quality=90)
    else:
        raise InvalidParameter("output_format")
    return buf.getvalue(), CONTENT_TYPES[output_format]
