"""Colour profiles through the real stack: a wide-gamut photo keeps its colours, sRGB on request,
a CMYK JPEG converted through its profile, a 16-bit photo converted at 16 bits, a HEIC (also a
grid of tiles) keeps its profile, a broken profile ignored and noted.

The photo is skimage's astronaut, its sRGB values converted by LittleCMS into an Adobe-RGB-like
or Display P3 space (tools/icc.py) and tagged with that profile. The output's pixels, read
through the output's own profile, must match the photo's colours on the subject (CIE76 delta E).
"""

from __future__ import annotations

import io

import imagecodecs
import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageCms
from skimage.color import deltaE_cie76, rgb2lab

from tests.integration.test_remove_background import fetch_output
from tests.integration.test_uploads import upload
from tests.reference.colour_float import adobe_to_srgb
from tests.security.hostile_images import iccp_chunk, png16
from tests.security.util import assert_balance, auth, last_job
from tests.stack import get_token, make_user
from tools import icc

SRGB = ImageCms.createProfile("sRGB")
pillow_heif.register_heif_opener()  # HEIC written and read here too


def _save(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def as_srgb(img: Image.Image) -> np.ndarray:
    """The RGB pixels of an output, read through its embedded profile (none: sRGB)."""
    rgb = img.convert("RGB")
    data = img.info.get("icc_profile")
    if data:
        rgb = ImageCms.profileToProfile(rgb, icc.read(data), SRGB, outputMode="RGB")
    return np.asarray(rgb)


def delta_e(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> np.ndarray:
    return deltaE_cie76(rgb2lab(a[where][None]), rgb2lab(b[where][None]))[0]


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    from skimage import data as skdata

    return Image.fromarray(skdata.astronaut()).resize((320, 320), Image.Resampling.LANCZOS)


def tagged(astronaut: Image.Image, profile: bytes, fmt: str = "PNG", **params: object) -> bytes:
    """The astronaut's colours converted into profile's space, the profile embedded."""
    pixels = ImageCms.profileToProfile(astronaut, SRGB, icc.read(profile), outputMode="RGB")
    return _save(pixels, fmt, icc_profile=profile, **params)


@pytest.fixture(scope="module")
def adobe_png(astronaut: Image.Image) -> bytes:
    return tagged(astronaut, icc.adobe_rgb())


# Adobe RGB (cameras, studios) and Display P3 (every iPhone photo); how far off each one's
# numbers are when read as sRGB, on the subject (a viewer that ignores the profile).
WIDE = {"adobe-rgb": (icc.adobe_rgb, 3.0), "display-p3": (icc.display_p3, 2.0)}


@pytest.fixture()
def token(client, rt) -> str:
    return get_token(client, make_user(rt, credits=5)["api_key"])


def _output(resp) -> Image.Image:
    body = resp.get_json()
    assert resp.status_code == 200, body
    return fetch_output(body["data"]["output_image"])


@pytest.mark.parametrize("space", list(WIDE))
def test_a_wide_gamut_photo_keeps_its_space_and_colours(client, token, astronaut, space,
                                                        worker):
    make, off = WIDE[space]
    out = _output(upload(client, token, tagged(astronaut, make())))
    assert out.info.get("icc_profile") == make()
    subject = np.asarray(out)[:, :, 3] == 255
    assert subject.mean() > 0.2
    diff = delta_e(as_srgb(out), np.asarray(astronaut), subject)
    assert diff.mean() < 1.5 and np.percentile(diff, 99) < 4
    # Read as sRGB (what a viewer does without the profile) the colours are visibly off.
    wrong = delta_e(np.asarray(out.convert("RGB")), np.asarray(astronaut), subject)
    assert wrong.mean() > off


@pytest.mark.parametrize("space", list(WIDE))
def test_srgb_option_and_background_colour(client, token, astronaut, space, worker):
    make, _ = WIDE[space]
    photo = tagged(astronaut, make())
    out = _output(upload(client, token, photo, color_space="srgb"))
    assert not out.info.get("icc_profile")
    subject = np.asarray(out)[:, :, 3] == 255
    assert delta_e(np.asarray(out.convert("RGB")), np.asarray(astronaut), subject).mean() < 1.5
    out = _output(upload(client, token, photo, output_format="jpg", bg_color="#ff0000"))
    assert out.info.get("icc_profile") == make()
    r, g, b = as_srgb(out)[0, 0]
    assert r > 245 and g < 12 and b < 12  # red as asked, once read through the profile


@pytest.mark.parametrize("grid", [False, True])
def test_a_heic_keeps_its_profile_and_colours(client, token, astronaut, grid, worker):
    # pillow-heif writes the profile (colr prof); with a tile size, a grid of 128x128 tiles
    # (as iPhones write 512x512 tiles): libheif reassembles it on decoding.
    params: dict = {"quality": 95, "chroma": 444}
    if grid:
        params["tile_size"] = 128
    data = tagged(astronaut, icc.display_p3(), "HEIF", **params)
    assert ("tiling" in Image.open(io.BytesIO(data)).info) == grid  # pillow-heif: a grid
    out = _output(upload(client, token, data))
    assert out.info.get("icc_profile") == icc.display_p3()
    subject = np.asarray(out)[:, :, 3] == 255
    assert subject.mean() > 0.2
    diff = delta_e(as_srgb(out), np.asarray(astronaut), subject)
    assert diff.mean() < 2.0 and np.percentile(diff, 99) < 6  # a lossy copy


def test_a_cmyk_jpeg_converts_through_its_profile(client, token, astronaut, worker):
    cmyk_profile = icc.cmyk()
    data = _save(astronaut.convert("CMYK"), "JPEG", quality=95, icc_profile=cmyk_profile)
    expected = np.asarray(ImageCms.profileToProfile(
        Image.open(io.BytesIO(data)), icc.read(cmyk_profile), SRGB,
        renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"))
    out = _output(upload(client, token, data))
    assert not out.info.get("icc_profile")  # CMYK becomes sRGB
    subject = np.asarray(out)[:, :, 3] == 255
    assert delta_e(np.asarray(out.convert("RGB")), expected, subject).mean() < 1.0


def test_a_garbage_profile_is_ignored_and_the_job_says_so(client, rt, token, astronaut, worker):
    data = _save(astronaut, "PNG", icc_profile=b"not a profile" * 50)
    resp = upload(client, token, data)
    out = _output(resp)
    assert out.size == (320, 320) and not out.info.get("icc_profile")
    job = client.get(f"/api/v1/jobs/{resp.headers['X-Job-Id']}", headers=auth(token)).get_json()
    assert job["status"] == "succeeded"
    assert any("ICC profile" in note for note in job["notes"]), job


def test_notes_for_a_background_photo_and_on_a_failed_job(client, rt, images, astronaut,
                                                            worker):
    user = make_user(rt, credits=3)
    token = get_token(client, user["api_key"])
    junk = b"not a profile" * 50
    bg = images.add("bg-junk-profile.png", _save(Image.new("RGB", (64, 64), (20, 90, 200)),
                                                 "PNG", icc_profile=junk), "image/png")
    resp = upload(client, token, _save(astronaut, "PNG"), bg_image_url=bg)
    _output(resp)
    job = client.get(f"/api/v1/jobs/{resp.headers['X-Job-Id']}", headers=auth(token)).get_json()
    assert job["status"] == "succeeded"
    assert len(job["notes"]) == 1 and job["notes"][0].startswith("Background photo: "), job
    assert "ICC profile" in job["notes"][0]
    # A job that fails after its photo's profile was ignored: the failed record says so too.
    not_an_image = images.add("bg-not-an-image.png", b"<html>no</html>", "image/png")
    resp = upload(client, token, _save(astronaut, "PNG", icc_profile=junk),
                  bg_image_url=not_an_image)
    assert resp.status_code == 422, resp.get_json()
    failed = last_job(rt, user)
    assert failed["status"] == "failed" and failed["error_code"] == "invalid_image"
    job = client.get(f"/api/v1/jobs/{failed['id']}", headers=auth(token)).get_json()
    assert job["status"] == "failed" and job["error"]["code"] == "invalid_image"
    assert len(job["notes"]) == 1 and "ICC profile" in job["notes"][0], job
    assert_balance(rt, user, 2)


def test_removebg_endpoint_keeps_the_profile_or_converts_on_request(client, rt, adobe_png,
                                                                    worker):
    headers = {"X-Api-Key": make_user(rt, credits=2)["api_key"]}
    outs = []
    for extra in ({}, {"color_space": "srgb"}):
        resp = client.post("/v1.0/removebg", headers=headers, data={
            "image_file": (io.BytesIO(adobe_png), "adobe.png", "image/png"), "size": "full",
            "format": "png", **extra}, content_type="multipart/form-data")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        outs.append(Image.open(io.BytesIO(resp.data)))
    assert outs[0].info.get("icc_profile") == icc.adobe_rgb()
    assert not outs[1].info.get("icc_profile")


def test_a_16_bit_photo_is_converted_at_16_bits(client, token, astronaut, worker):
    # The astronaut in Adobe RGB at 16 bits (converted from float): a real 16-bit photo.
    wide = imagecodecs.cms_transform(
        np.asarray(astronaut, np.float32) / 255, imagecodecs.cms_profile("srgb"),
        icc.adobe_rgb(), colorspace="rgb", outcolorspace="rgb", outdtype=np.uint16,
        flags=0x0100)  # unoptimised: exact
    data = png16(wide, iccp_chunk(icc.adobe_rgb()))
    out = _output(upload(client, token, data))
    subject = np.asarray(out)[:, :, 3] == 255
    assert subject.mean() > 0.2 and out.info.get("icc_profile") == icc.adobe_rgb()
    # Its own space: each sample rounded once from 16 bits (v / 257).
    own = ((wide.astype(np.uint32) + 128) // 257).astype(np.uint8)
    assert np.array_equal(np.asarray(out)[:, :, :3][subject], own[subject])
    # sRGB on request: within a level of a float conversion of the 16-bit pixels.
    out = _output(upload(client, token, data, color_space="srgb"))
    subject = np.asarray(out)[:, :, 3] == 255
    diff = np.abs(np.asarray(out)[:, :, :3].astype(np.float64) - adobe_to_srgb(wide))
    assert subject.mean() > 0.2 and diff[subject].max() <= 1.0
