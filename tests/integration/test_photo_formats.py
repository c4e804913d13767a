"""HEIC/HEIF and AVIF through the real stack: every input path, the same cut-out as the PNG.

The photo is skimage's astronaut, encoded here as PNG, HEIC (pillow-heif) and AVIF (Pillow's
libavif); the cut-out of each lossy copy matches the PNG's within a small tolerance. AVIF is
also an output format of our endpoint (an extension), not of remove.bg's.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from tests.integration.test_remove_background import fetch_output
from tests.integration.test_uploads import ENDPOINT, upload
from tests.security.util import assert_balance, assert_error, auth, last_job
from tests.stack import get_token, make_user

pillow_heif.register_heif_opener()


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **params)
    return buf.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    from skimage import data as skdata

    return Image.fromarray(skdata.astronaut()).resize((320, 320), Image.Resampling.LANCZOS)


@pytest.fixture(scope="module")
def files(astronaut: Image.Image) -> dict[str, bytes]:
    return {"png": encode(astronaut, "PNG"), "heic": encode(astronaut, "HEIF", quality=95),
            "avif": encode(astronaut, "AVIF", quality=95)}


@pytest.fixture()
def user(client, rt) -> dict:
    u = make_user(rt, credits=5)
    u["token"] = get_token(client, u["api_key"])
    return u


def alpha_of(img: Image.Image) -> np.ndarray:
    assert img.mode == "RGBA"
    return np.asarray(img)[:, :, 3].astype(np.int16)


_PNG_ALPHA: list[np.ndarray] = []  # the PNG's cut-out, made once for the module


@pytest.fixture()
def png_alpha(client, rt, files, worker) -> np.ndarray:
    if not _PNG_ALPHA:
        u = make_user(rt, credits=1)
        resp = upload(client, get_token(client, u["api_key"]), files["png"])
        assert resp.status_code == 200, resp.get_json()
        _PNG_ALPHA.append(alpha_of(fetch_output(resp.get_json()["data"]["output_image"])))
    return _PNG_ALPHA[0]


def assert_same_cutout(alpha: np.ndarray, reference: np.ndarray) -> None:
    assert alpha.shape == reference.shape
    assert np.abs(alpha - reference).mean() < 4.0  # levels of 255, over the whole picture
    inside, ref_inside = alpha > 127, reference > 127
    iou = (inside & ref_inside).sum() / max((inside | ref_inside).sum(), 1)
    assert iou > 0.97


def test_heic_multipart_and_avif_base64(client, rt, user, files, png_alpha, worker):
    resp = upload(client, user["token"], files["heic"])
    assert resp.status_code == 200, resp.get_json()
    assert_same_cutout(alpha_of(fetch_output(resp.get_json()["data"]["output_image"])),
                       png_alpha)
    resp = client.post(ENDPOINT, headers=auth(user["token"]), json={
        "input_image_base64": base64.b64encode(files["avif"]).decode()})
    assert resp.status_code == 200, resp.get_json()
    assert_same_cutout(alpha_of(fetch_output(resp.get_json()["data"]["output_image"])),
                       png_alpha)
    assert_balance(rt, user, 3)


def test_heic_and_avif_by_url(client, rt, user, images, files, png_alpha, worker):
    for name, ctype in (("heic", "image/heic"), ("avif", "image/avif")):
        url = images.add(f"astronaut.{name}", files[name], ctype)
        resp = client.post(ENDPOINT, headers=auth(user["token"]), json={"input_image": url})
        assert resp.status_code == 200, resp.get_json()
        assert_same_cutout(alpha_of(fetch_output(resp.get_json()["data"]["output_image"])),
                           png_alpha)


def test_removebg_fields_take_heic_and_avif(client, rt, files, png_alpha, worker):
    u = make_user(rt, credits=3)
    headers = {"X-Api-Key": u["api_key"]}
    resp = client.post("/v1.0/removebg", headers=headers, data={
        "image_file": (io.BytesIO(files["heic"]), "IMG_0001.HEIC", "image/heic"),
        "size": "full", "format": "png"}, content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert_same_cutout(alpha_of(Image.open(io.BytesIO(resp.data))), png_alpha)
    resp = client.post("/v1.0/removebg", headers=headers, json={
        "image_file_b64": base64.b64encode(files["avif"]).decode(), "size": "full",
        "format": "png"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert_same_cutout(alpha_of(Image.open(io.BytesIO(resp.data))), png_alpha)
    # AVIF output is our endpoint's extension: remove.bg's format list stays as it is.
    resp = client.post("/v1.0/removebg", headers=headers, json={
        "image_file_b64": base64.b64encode(files["avif"]).decode(), "format": "avif"})
    assert resp.status_code == 400 and resp.get_json()["errors"][0]["code"] == \
        "invalid_parameter"
    assert_balance(rt, u, 1)


def test_avif_output(client, rt, user, files, png_alpha, worker):
    resp = upload(client, user["token"], files["png"], output_format="avif")
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["data"]["output_image"].split("?")[0].endswith(".avif")
    out = fetch_output(body["data"]["output_image"])
    assert (out.format, out.size) == ("AVIF", (320, 320))
    assert_same_cutout(alpha_of(out.convert("RGBA")), png_alpha)
    assert last_job(rt, user)["output_key"].endswith(".avif")


def test_a_movie_is_not_an_image(client, rt, user, worker):
    movie = b"\x00\x00\x00\x18ftypqt  " + b"\x00" * 64
    resp = upload(client, user["token"], movie)
    body = assert_error(resp, 422, "invalid_image")
    assert "HEIC/HEIF or AVIF" in body["message"]
    assert_balance(rt, user, 5)
