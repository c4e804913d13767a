"""A PNG's iCCP chunk inflated within a bound (worker/png_profile.py): never a failed decode.

Pillow refuses a PNG whose profile inflates past 1 MB; such a photo is decoded with its profile
used when it is whole and within MAX_PROFILE_BYTES, else ignored with a note, and the inflation
never runs past that bound (a 64 MB iCCP bomb inflates 4 MB + 1 byte at most).
"""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image

from tests.security import hostile_images as h
from tools import icc
from worker import colour, png_profile
from worker.decode import upright_rgb

pytestmark = pytest.mark.unit

MAX_PIXELS = 25_000_000


def test_pillow_alone_refuses_a_profile_past_1_mb() -> None:
    # What this module exists for: without it, the whole photo would be refused.
    with pytest.raises(ValueError, match="MAX_TEXT_CHUNK"):
        Image.open(io.BytesIO(h.iccp_2mb_png()))


def test_a_2_mb_profile_is_used() -> None:
    img = upright_rgb(h.iccp_2mb_png(), MAX_PIXELS)
    assert img.size == (64, 48)
    assert img.info["icc_profile"].startswith(icc.adobe_rgb())
    space = colour.space_of(img)
    assert not space.is_srgb and space.note is None


@pytest.mark.parametrize(("build", "why"), [
    (h.iccp_bomb_png, "inflates to more than"),
    (h.iccp_corrupt_png, "unreadable"),
    (h.iccp_unknown_method_png, "unreadable"),
])
def test_a_bomb_or_broken_iccp_is_ignored_with_a_note(build, why: str) -> None:
    img = upright_rgb(build(), MAX_PIXELS)
    assert img.size == (64, 48) and "icc_profile" not in img.info
    assert img.getpixel((0, 0)) == h.photo((64, 48)).getpixel((0, 0))
    space = colour.space_of(img)
    assert space.is_srgb and why in (space.note or "")


def test_the_inflation_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real = zlib.decompressobj

    class Counting:
        def __init__(self) -> None:
            self.inner = real()

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self.inner.decompress(data, max_length)
            sizes.append(len(out))
            return out

        @property
        def eof(self) -> bool:
            return self.inner.eof

    monkeypatch.setattr(png_profile.zlib, "decompressobj", Counting)
    data, profile, note = png_profile.bounded(h.iccp_bomb_png())
    assert sizes == [colour.MAX_PROFILE_BYTES + 1] and profile is None and note


def test_files_without_a_troublesome_iccp_are_untouched() -> None:
    plain = h.save(h.photo(), "PNG")
    tagged = h.save(h.photo(), "PNG", icc_profile=icc.adobe_rgb())
    jpeg = h.save(h.photo(), "JPEG", icc_profile=icc.adobe_rgb())
    for data in (plain, tagged, jpeg, b"iCCP" + plain):
        assert png_profile.bounded(data) == (data, None, None)
    assert upright_rgb(tagged, MAX_PIXELS).info["icc_profile"] == icc.adobe_rgb()
