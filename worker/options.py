"""The options engine shared by both APIs: from photo + mask to the encoded output and its facts.

Pure steps, like worker/pipeline.py, whose decode / composite / encode they build on: with no
options set the output is exactly pipeline.composite + pipeline.encode of the whole photo.
Order (remove.bg's): size limit -> roi -> crop (+ margin) -> scale / position -> background ->
channels -> format.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from PIL import Image

from shared.colors import parse_color
from shared.errors import UnknownForeground
from shared.options import OutputOptions, size_limit
from worker import layout, pipeline
from worker.layout import Foreground

CONTENT_TYPES = {**pipeline.CONTENT_TYPES, "zip": "application/zip"}


@dataclass
class Composed:
    """A laid-out result before encoding."""

    image: Image.Image  # what a png / jpg / webp output shows (RGBA, RGB, or the "L" matte)
    mask: Image.Image  # the final alpha matte, canvas-sized
    color: Image.Image  # RGB pixels for zip's color.jpg
    opaque: bool  # no transparent pixel: format "auto" picks jpg
    foreground: Foreground


@dataclass
class Rendered:
    """The encoded output and what the remove.bg API reports about it."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    foreground: Foreground

    def metadata(self) -> dict[str, str]:
        """S3 user metadata of the output: the gateway answers X-Width, X-Foreground-* from it."""
        fg = self.foreground
        return {"width": str(self.width), "height": str(self.height),
                "fg-top": str(fg.top), "fg-left": str(fg.left),
                "fg-width": str(fg.width), "fg-height": str(fg.height)}


def decode(data: bytes, options: OutputOptions, max_pixels: int) -> tuple[Image.Image, float]:
    """Decode, then shrink to the requested size; returns (image, factor applied)."""
    image = pipeline.decode(data, max_pixels)
    # Before segmentation: the model then works on the pixels that are delivered.
    return layout.limit_pixels(image, size_limit(options.get("size"), max_pixels))


def compose(image: Image.Image, mask: Image.Image, payload: Any, options: OutputOptions,
            background: Image.Image | None = None, factor: float = 1.0) -> Composed:
    """Lay out and composite one result; payload carries the seed's background fields."""
    mask = layout.apply_roi(mask, options.get("roi"), factor)
    bbox = mask.getbbox()
    if bbox is None and options.get("require_foreground"):
        raise UnknownForeground()
    canvas = (0, 0, *image.size)
    if options.get("crop") and bbox is not None:
        canvas = layout.crop_box(bbox, options.get("crop_margin"))
    image, mask = layout.place(image, mask, bbox, canvas, options.get("scale"),
                               options.get("position"))
    fg = layout.foreground(mask)
    if options.get("channels") == "alpha":
        return Composed(mask, mask, mask.convert("RGB"), False, fg)
    fmt = payload["output_format"]
    bg_color = payload.get("bg_color")
    if background is not None:
        out = layout.cover(background, image.size)
        out.paste(image, (0, 0), mask)
    elif bg_color and parse_color(bg_color)[3] < 255:
        # A translucent colour (#rrggbbaa): the subject over it, the result keeps an alpha.
        cut = pipeline.composite(image, mask, None, None, None, "png")
        out = Image.alpha_composite(Image.new("RGBA", image.size, parse_color(bg_color)), cut)
    else:
        out = pipeline.composite(image, mask, bg_color, payload.get("bg_gradient"),
                                 payload.get("gradient_direction"),
                                 "jpg" if fmt == "jpg" else "png")
    opaque = out.mode == "RGB" or out.getextrema()[3][0] == 255
    color = out.convert("RGB") if out.mode == "RGB" or background is not None else image
    return Composed(out, mask, color, opaque, fg)


def encode(composed: Composed, output_format: str, png_level: int = 6,
           png_strategy: str = "rle") -> Rendered:
    """Encode as png / jpg / webp / zip (color.jpg + alpha.png) / auto (png if transparent)."""
    fmt = output_format
    if fmt == "auto":
        fmt = "jpg" if composed.opaque and composed.image.mode != "L" else "png"
    width, height = composed.image.size
    if fmt == "zip":
        color, _ = pipeline.encode(composed.color, "jpg")
        alpha, _ = pipeline.encode(composed.mask, "png", png_level, png_strategy)
        buf = io.BytesIO()
        # Stored, not deflated: JPEG and PNG are compressed already.
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("color.jpg", color)
            archive.writestr("alpha.png", alpha)
        return Rendered(buf.getvalue(), CONTENT_TYPES["zip"], "zip", width, height,
                        composed.foreground)
    data, content_type = pipeline.encode(composed.image, fmt, png_level, png_strategy)
    return Rendered(data, content_type, pipeline.EXTENSIONS[fmt], width, height,
                    composed.foreground)
