"""Colour management: a photo's embedded ICC profile, the sRGB the model sees, the output's space.

The decoder leaves the photo's own pixel values and its profile (image.info["icc_profile"]);
here the profile is read once per job (`space_of`). The model is given the photo converted to
sRGB through it (LittleCMS, perceptual intent), so a profile does not change the cut-out; the
output keeps the photo's own space, its profile embedded by worker/encode.py, and the requested
background colours (sRGB hex) are converted into that space so that they look as asked.
`color_space=srgb` converts the output to sRGB instead. A profile that cannot be read or used
(garbage, a wrong colour space, more than MAX_PROFILE_BYTES) is ignored, never fatal: the photo
is then read as sRGB and `Space.note` says why, for the job's record. A 16-bit photo
(worker/depth16.py) is converted to sRGB from its 16-bit pixels, rounded once at the end. A
profile's transforms are built once per process (a small cache by its digest), and the model's
copy of a matrix/TRC photo (nearly all) goes through a compiled pass, worker/matrix_shaper.py.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, NamedTuple

import imagecodecs
import numpy as np
from PIL import Image, ImageCms

from worker import depth16, matrix_shaper

log = logging.getLogger("worker.colour")

MAX_PROFILE_BYTES = 4 << 20  # larger than any real camera, scanner or print profile
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_INTENT = ImageCms.Intent.PERCEPTUAL
_SRGB_BYTES = imagecodecs.cms_profile("srgb")  # LittleCMS's own sRGB, as ImageCms's
_NO_OPTIMISE = 0x0100  # cmsFLAGS_NOOPTIMIZE
_SHARED = ImageCms.Flags.NOCACHE
UNREADABLE = "The image's ICC profile is unreadable: ignored, the image was read as sRGB."
# What ImageCms raises on a profile or transform it cannot use.
_CMS_ERRORS = (ImageCms.PyCMSError, OSError, ValueError, TypeError)


@dataclass(frozen=True)
class Space:
    """A photo's colour space: its ICC profile (None: sRGB) and why a profile was dropped."""

    icc: bytes | None = None
    note: str | None = None
    _to_srgb: Any = None  # ImageCms transforms, built once per profile (_transforms)
    _from_srgb: Any = None
    _fast: matrix_shaper.MatrixShaper | None = None  # the compiled pass, where it applies

    @property
    def is_srgb(self) -> bool:
        return self._to_srgb is None

    def to_srgb(self, image: Image.Image) -> Image.Image:
        """An RGB image in this space -> the same picture in sRGB (the model's input)."""
        if self._to_srgb is None:
            return image
        wide = image.info.get(depth16.WIDE)
        if wide is not None and self.icc:
            return Image.fromarray(depth16.to8(wide_to_srgb(wide, self.icc)), "RGB")
        if self._fast is not None and image.mode == "RGB":
            return Image.fromarray(self._fast.to_srgb(np.asarray(image)), "RGB")
        return ImageCms.applyTransform(image, self._to_srgb)  # type: ignore[return-value]

    def from_srgb(self, image: Image.Image) -> Image.Image:
        """An sRGB RGB image (a requested background) -> the same colours in this space."""
        if self._from_srgb is None or image.mode != "RGB":
            return image
        return ImageCms.applyTransform(image, self._from_srgb)  # type: ignore[return-value]

    def colour(self, rgb: tuple[int, ...]) -> tuple[int, ...]:
        """One sRGB colour (r, g, b[, a]) in this space; alpha is kept as it is."""
        if self._from_srgb is None:
            return rgb
        pixel = self.from_srgb(Image.new("RGB", (1, 1), tuple(rgb[:3])))
        return (*pixel.getpixel((0, 0)), *rgb[3:])  # type: ignore[misc]


SRGB = Space()


def wide_to_srgb(wide: np.ndarray, icc: bytes) -> np.ndarray:
    """16-bit pixels in icc's space -> 16-bit sRGB, computed without LittleCMS's optimisations.

    Its optimised 16-bit pipeline (curves and matrix folded into a sampled grid) is off by up
    to 20 levels of 255 near black; unoptimised it is within 0.6 of a float reference
    (tests/unit/test_depth16.py), at ~0.25 s per megapixel, paid by 16-bit photos alone.
    """
    return imagecodecs.cms_transform(wide, icc, _SRGB_BYTES, colorspace="rgb",
                                     outcolorspace="rgb", outdtype=np.uint16,
                                     intent=int(_INTENT), flags=_NO_OPTIMISE)


def read_profile(icc: bytes | None) -> tuple[ImageCms.ImageCmsProfile | None, str | None]:
    """(the profile, None), or (None, why it is ignored); (None, None) for no profile."""
    if not icc:
        return None, None
    if not isinstance(icc, bytes):
        return None, UNREADABLE  # (a TIFF tag of another type)
    if len(icc) > MAX_PROFILE_BYTES:
        return None, (f"The image's ICC profile ({len(icc)} bytes) is larger than "
                      f"{MAX_PROFILE_BYTES} bytes: ignored, the image was read as sRGB.")
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc)), None
    except _CMS_ERRORS:
        return None, UNREADABLE


def space_of(image: Image.Image) -> Space:
    """The colour space of a decoded RGB image, from the profile the decoder left in its info."""
    icc = image.info.get("icc_profile")
    if not icc:
        return Space(note=image.info.get("colour_note"))  # (a CMYK photo's, a cut PNG chunk's)
    found = _transforms(icc)
    if found.note:
        return Space(note=found.note)
    return Space(icc=icc, _to_srgb=found.to_srgb, _from_srgb=found.from_srgb,
                 _fast=found.fast)


# The transforms of the last few profiles, by their bytes' digest: most photos of a deployment
# carry one of a handful (Display P3, Adobe RGB, sRGB), and building the pair anew cost ~4 ms
# a job (of ~19 ms for the whole conversion at 1024x1024). NOCACHE: LittleCMS's one-pixel
# cache is what would make a transform unsafe to share between threads.
class _Transforms(NamedTuple):
    to_srgb: Any = None
    from_srgb: Any = None
    fast: matrix_shaper.MatrixShaper | None = None
    note: str | None = None  # why the profile is ignored (then no transform)


_CACHED: OrderedDict[bytes, _Transforms] = OrderedDict()
_CACHED_MAX = 16
_LOCK = threading.Lock()


def _transforms(icc: bytes) -> _Transforms:
    """A profile's transforms to and from sRGB, or why it is ignored."""
    if not isinstance(icc, bytes) or len(icc) > MAX_PROFILE_BYTES:
        return _Transforms(note=read_profile(icc)[1])  # not kept: an enormous one stays out
    key = hashlib.sha256(icc).digest()
    with _LOCK:
        found = _CACHED.get(key)
        if found is not None:
            _CACHED.move_to_end(key)
            return found
    found = _build(icc)
    with _LOCK:
        _CACHED[key] = found
        while len(_CACHED) > _CACHED_MAX:
            _CACHED.popitem(last=False)
    return found


def _build(icc: bytes) -> _Transforms:
    profile, note = read_profile(icc)
    if profile is None:
        return _Transforms(note=note)
    try:
        to_srgb = ImageCms.buildTransform(profile, _SRGB, "RGB", "RGB", _INTENT, flags=_SHARED)
        from_srgb = ImageCms.buildTransform(_SRGB, profile, "RGB", "RGB", _INTENT, flags=_SHARED)
    except _CMS_ERRORS:
        return _Transforms(note=("The image's ICC profile cannot convert RGB pixels (a "
                                 f"{profile.profile.xcolor_space.strip() or 'unknown'} "
                                 "profile): ignored, the image was read as sRGB."))
    # The model's copy through a compiled pass where the profile is curves and a matrix,
    # checked against LittleCMS's unoptimised conversion (worker/matrix_shaper.py).
    fast = matrix_shaper.build(
        icc, lambda rgb: depth16.to8(wide_to_srgb(rgb.astype(np.uint16) * 257, icc)))
    return _Transforms(to_srgb, from_srgb, fast)


def cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """A CMYK image -> sRGB: through its embedded profile when it has a usable one.

    Pillow already undoes Adobe's inverted CMYK in JPEGs; without a profile (or with an
    unusable one) its naive formula is what is left, and the info says why.
    """
    profile, note = read_profile(image.info.get("icc_profile"))
    out: Image.Image | None = None
    if profile is not None:
        try:
            out = ImageCms.profileToProfile(image, profile, _SRGB, renderingIntent=_INTENT,
                                            outputMode="RGB")
        except _CMS_ERRORS:
            note = "The image's CMYK profile cannot be used: ignored, converted without it."
    if out is None:
        out = image.convert("RGB")
    out.info = {k: v for k, v in image.info.items() if k != "icc_profile"}
    if note:
        out.info["colour_note"] = note
    return out


def convert(image: Image.Image, space: Space) -> tuple[Image.Image, str | None]:
    """A decoded RGB image (a background photo), through its own profile, into space; and
    why its profile was ignored, if it was (for the job's record)."""
    own = space_of(image)
    return space.from_srgb(own.to_srgb(image)), own.note
