"""Unit tests for the output options: parsed (shared/options.py), then rendered and encoded.

The rendering is worker/render.py with worker/layout.py's geometry, the encoding
worker/encode.py, and the size limit worker/decode.py's.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from shared import options as opt
from shared.colors import normalise_color, parse_color
from shared.errors import UnknownForeground
from worker import decode, encode, layout, render

pytestmark = pytest.mark.unit

PAYLOAD = {"output_format": "png", "bg_color": None, "bg_gradient": None,
           "gradient_direction": None}
SUBJECT = (50, 20, 90, 60)  # left, top, right, bottom of the white square in the mask


@pytest.fixture()
def photo() -> tuple[Image.Image, Image.Image]:
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 255, (100, 200, 3), dtype=np.uint8), "RGB")
    mask = Image.new("L", (200, 100), 0)
    mask.paste(255, SUBJECT)
    return image, mask


def rendered(photo, fmt: str = "png", payload: dict | None = None,
             **options) -> encode.Encoded:
    image, mask = photo
    payload = {**PAYLOAD, "output_format": fmt, **(payload or {})}
    return encode.output(render.compose(image, mask, payload, options), fmt)


def decoded(encoded: encode.Encoded) -> Image.Image:
    img = Image.open(io.BytesIO(encoded.data))
    img.load()
    return img


# -- parsers ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "rgba"), [
    ("#fff", (255, 255, 255, 255)), ("fff", (255, 255, 255, 255)),
    ("#ffff0080", (255, 255, 0, 128)), ("1234", (0x11, 0x22, 0x33, 0x44)),
    ("81d4fa", (0x81, 0xD4, 0xFA, 255)), ("Red", (255, 0, 0, 255)),
    ("rebeccapurple", (0x66, 0x33, 0x99, 255))])
def test_colors_in_every_remove_bg_form(value: str, rgba: tuple) -> None:
    assert parse_color(value) == rgba


@pytest.mark.parametrize("value", ["#12345", "reddish", "#ggg", "", "#1234567", "\x00"])
def test_bad_colors_are_refused(value: str) -> None:
    with pytest.raises(ValueError, match="colour"):
        parse_color(value)


def test_normalised_colors() -> None:
    assert normalise_color("RED") == "#ff0000"
    assert normalise_color("#ffff0080") == "#ffff0080"


@pytest.mark.parametrize(("value", "size"), [
    ("preview", "preview"), ("small", "preview"), ("regular", "preview"), ("HD", "hd"),
    ("medium", "medium"), ("full", "full"), ("4k", "full"), ("auto", "full"), ("50MP", "50MP")])
def test_sizes_and_remove_bg_aliases(value: str, size: str) -> None:
    assert opt.parse_size(value) == size


def test_size_limits() -> None:
    assert opt.size_limit("preview", 50_000_000) == 250_000
    assert opt.size_limit(None, 50_000_000) == 50_000_000
    assert opt.size_limit("50MP", 30_000_000) == 30_000_000


def test_margins_one_two_four_values() -> None:
    assert opt.parse_margin("10px") == [[10, "px"]] * 4
    assert opt.parse_margin("10% 20px") == [[10, "%"], [20, "px"], [10, "%"], [20, "px"]]
    assert opt.parse_margin("1 2 3 4") == [[1, "px"], [2, "px"], [3, "px"], [4, "px"]]
    for bad in ("501px", "51%", "1 2 3", "ten"):
        with pytest.raises(ValueError):
            opt.parse_margin(bad)


def test_scale_position_roi() -> None:
    assert opt.parse_scale("original") is None and opt.parse_scale("50%") == 0.5
    assert opt.parse_position("center") == [0.5, 0.5]
    assert opt.parse_position("0% 100%") == [0.0, 1.0]
    assert opt.parse_roi("0% 0% 100% 100%") is None
    assert opt.parse_roi("10px 20px 50% 60%") == [[10, "px"], [20, "px"], [50, "%"], [60, "%"]]
    for parse, bad in ((opt.parse_scale, "5%"), (opt.parse_position, "left"),
                       (opt.parse_roi, "1 2 3"), (opt.parse_roi, "50px 0 10px 100%")):
        with pytest.raises(ValueError):
            parse(bad)


# -- rendered and encoded ----------------------------------------------------------------------
def test_no_options_is_exactly_the_seed_pipeline(photo) -> None:
    image, mask = photo
    expected, _ = encode.image_bytes(render.composite(image, mask, None, None, None, "png"), "png")
    out = rendered(photo)
    assert out.data == expected and out.extension == "png"
    assert out.subject_box == layout.SubjectBox(top=20, left=50, width=40, height=40)


def test_crop_with_margin_is_the_box_plus_margin(photo) -> None:
    out = rendered(photo, crop=True, crop_margin=opt.parse_margin("10px 10% 0px 5px"))
    # 40x40 subject; right margin 10% of its width = 4 px; the box may leave the photo.
    assert (out.width, out.height) == (40 + 4 + 5, 40 + 10)
    assert out.subject_box == layout.SubjectBox(top=10, left=5, width=40, height=40)
    assert decoded(out).size == (49, 50)


def test_crop_past_the_edge_pads_transparently(photo) -> None:
    image, mask = photo
    edge = Image.new("L", mask.size, 0)
    edge.paste(255, (0, 0, 10, 10))
    out = encode.output(render.compose(image, edge, PAYLOAD, {
        "crop": True, "crop_margin": opt.parse_margin("20px")}), "png")
    img = decoded(out)
    assert img.size == (50, 50) and img.getpixel((0, 0))[3] == 0
    assert img.getpixel((25, 25))[3] == 255


def test_scale_and_position(photo) -> None:
    centred = rendered(photo, scale=0.5)
    assert (centred.width, centred.height) == (200, 100)
    # Fills half of the tighter dimension (height 100 -> 50), centred in the free space.
    assert centred.subject_box == layout.SubjectBox(top=25, left=75, width=50, height=50)
    corner = rendered(photo, scale=1.0, position=[0.0, 1.0])
    assert corner.subject_box == layout.SubjectBox(top=0, left=0, width=100, height=100)
    moved = rendered(photo, position=[1.0, 0.0])
    assert moved.subject_box == layout.SubjectBox(top=0, left=160, width=40, height=40)


def test_roi_clears_the_mask_outside(photo) -> None:
    out = rendered(photo, roi=opt.parse_roi("0 0 70px 100%"))
    assert out.subject_box == layout.SubjectBox(top=20, left=50, width=20, height=40)


def test_channels_alpha_is_the_mask_alone(photo) -> None:
    img = decoded(rendered(photo, channels="alpha"))
    assert img.mode == "L"
    assert np.array_equal(np.asarray(img), np.asarray(photo[1]))


def test_format_auto_png_when_transparent_jpg_when_not(photo) -> None:
    assert rendered(photo, "auto").extension == "png"
    assert rendered(photo, "auto", {"bg_color": "#2ec27e"}).extension == "jpg"
    assert rendered(photo, "auto", {"bg_color": "#2ec27e80"}).extension == "png"


def test_translucent_bg_color_keeps_alpha(photo) -> None:
    img = decoded(rendered(photo, "png", {"bg_color": "#ff000080"}))
    assert img.mode == "RGBA" and img.getpixel((0, 0)) == (255, 0, 0, 128)


def test_zip_has_color_jpg_and_alpha_png(photo) -> None:
    out = rendered(photo, "zip")
    assert out.content_type == "application/zip" and out.extension == "zip"
    with zipfile.ZipFile(io.BytesIO(out.data)) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
        color = Image.open(io.BytesIO(archive.read("color.jpg")))
        alpha = Image.open(io.BytesIO(archive.read("alpha.png")))
        assert color.format == "JPEG" and color.size == alpha.size == (200, 100)
        assert np.array_equal(np.asarray(alpha), np.asarray(photo[1]))


def test_background_photo_covers_the_canvas(photo) -> None:
    image, mask = photo
    background = Image.new("RGB", (30, 60), (0, 0, 255))
    out = render.compose(image, mask, PAYLOAD, {}, background)
    assert out.image.size == (200, 100) and out.image.getpixel((0, 0)) == (0, 0, 255)
    assert out.opaque


def test_empty_mask_refused_only_when_asked(photo) -> None:
    image, _ = photo
    empty = Image.new("L", image.size, 0)
    assert render.compose(image, empty, PAYLOAD, {"crop": True}).subject_box.width == 0
    with pytest.raises(UnknownForeground):
        render.compose(image, empty, PAYLOAD, {"require_foreground": True})


def test_size_limit_shrinks_before_segmentation() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1000, 800), (1, 2, 3)).save(buf, "PNG")
    image, factor = decode.photo(buf.getvalue(), {"size": "preview"}, 50_000_000)
    assert image.width * image.height <= 250_000 and image.width * image.height > 240_000
    assert abs(image.width / image.height - 1.25) < 0.01 and factor == image.width / 1000
