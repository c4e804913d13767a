"""Uploads (multipart, base64) and output options on our HeySwap endpoint, real stack."""

from __future__ import annotations

import base64
import dataclasses
import io
import time

import numpy as np
import pytest
import requests
import urllib3
from PIL import Image
from werkzeug.datastructures import MultiDict

from gateway.app import create_app
from tests.integration.test_remove_background import fetch_output, jpeg
from tests.security.util import assert_balance, assert_error, assert_no_job, auth, last_job
from tests.stack import get_token, make_user

ENDPOINT = "/api/v1/image/remove-background"


@pytest.fixture(scope="module")
def coffee() -> bytes:
    from skimage import data as skdata

    return jpeg(skdata.coffee())  # 600x400


@pytest.fixture()
def user(client, rt) -> dict:
    u = make_user(rt, credits=3)
    u["token"] = get_token(client, u["api_key"])
    return u


def upload(client, token: str, image: bytes | None = None, **fields: object):
    data: dict = {k: str(v) for k, v in fields.items()}
    if image is not None:
        data["input_image"] = (io.BytesIO(image), "photo.jpg", "image/jpeg")
    return client.post(ENDPOINT, data=data, content_type="multipart/form-data",
                       headers=auth(token))


def no_inputs_left(rt, job_id: str, timeout: float = 10.0) -> bool:
    """The job's uploaded objects are gone (the worker deletes them just after answering)."""
    deadline = time.monotonic() + timeout
    while rt.storage.list_keys(f"inputs/{job_id}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_multipart_upload(client, rt, user, coffee, worker):
    resp = upload(client, user["token"], coffee)
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["data"]["input_image"] is None and body["credits_remaining"] == 2
    out = fetch_output(body["data"]["output_image"])
    assert (out.format, out.mode, out.size) == ("PNG", "RGBA", (600, 400))
    job = last_job(rt, user)
    assert job["status"] == "succeeded" and job["params"]["input_image"] is None
    assert no_inputs_left(rt, str(job["id"]))
    assert_balance(rt, user, 2)


def test_base64_in_json_with_options(client, rt, user, coffee, worker):
    resp = client.post(ENDPOINT, headers=auth(user["token"]), json={
        "input_image_base64": base64.b64encode(coffee).decode(), "size": "preview",
        "output_format": "jpg", "bg_color": "red"})
    body = resp.get_json()
    assert resp.status_code == 200, body
    out = fetch_output(body["data"]["output_image"])
    assert out.format == "JPEG" and out.width * out.height <= 250_000
    assert abs(out.width / out.height - 1.5) < 0.01
    r, g, b = out.getpixel((0, 0))
    assert r > 240 and g < 15 and b < 15
    assert no_inputs_left(rt, str(last_job(rt, user)["id"]))


def test_multipart_crop_alpha_and_url_field(client, rt, user, images, coffee, worker):
    url = images.add("upload-coffee.jpg", coffee)
    resp = upload(client, user["token"], None, input_image=url, crop="true",
                  channels="alpha", crop_margin="10px")
    body = resp.get_json()
    assert resp.status_code == 200, body
    assert body["data"]["input_image"] == url
    out = fetch_output(body["data"]["output_image"])
    assert out.mode == "L"
    bbox = out.point(lambda v: 255 if v else 0).getbbox()
    # The crop is the subject's box plus 10 px on every side.
    assert bbox == (10, 10, out.width - 10, out.height - 10)


def test_bg_image_url_covers_the_output(client, rt, user, images, coffee, worker):
    blue = io.BytesIO()
    Image.new("RGB", (50, 80), (0, 0, 255)).save(blue, "PNG")
    bg = images.add("blue-bg.png", blue.getvalue(), "image/png")
    resp = upload(client, user["token"], coffee, bg_image_url=bg)
    assert resp.status_code == 200, resp.get_json()
    out = fetch_output(resp.get_json()["data"]["output_image"]).convert("RGB")
    assert out.size == (600, 400) and out.getpixel((0, 0)) == (0, 0, 255)


# -- refusals: the right status and envelope, balance unchanged, nothing left in S3 -------------
def _file(data: bytes, name: str = "photo.jpg") -> tuple:
    return (io.BytesIO(data), name, "image/jpeg")


REFUSALS = [
    # (name, multipart fields (a bytes value is a file part), status, code)
    ("two sources", lambda c: [("input_image", _file(c)), ("input_image_base64", "aGVsbG8=")],
     400, "invalid_parameter"),
    ("url and file", lambda c: [("input_image", "https://a.example/x.jpg"),
                                ("input_image", _file(c))], 400, "invalid_parameter"),
    ("empty file", lambda c: [("input_image", _file(b""))], 422, "invalid_image"),
    ("not an image", lambda c: [("input_image", _file(b"<html>hello</html>"))], 422,
     "invalid_image"),
    ("bad hex", lambda c: [("input_image", _file(c)), ("bg_color", "#12345")], 400,
     "invalid_parameter"),
    ("bad size", lambda c: [("input_image", _file(c)), ("size", "huge")], 400,
     "invalid_parameter"),
    ("bad margin", lambda c: [("input_image", _file(c)), ("crop", "true"),
                              ("crop_margin", "900px")], 400, "invalid_parameter"),
    ("unknown file part", lambda c: [("input_image", _file(c)), ("other", _file(c))], 400,
     "invalid_parameter"),
    ("no image", lambda c: [("size", "full")], 400, "invalid_parameter"),
]


@pytest.mark.parametrize(("name", "build", "status", "code"), REFUSALS,
                         ids=[r[0] for r in REFUSALS])
def test_gateway_refusals_leave_nothing(client, rt, user, coffee, name, build, status, code):
    resp = client.post(ENDPOINT, data=MultiDict(build(coffee)), headers=auth(user["token"]),
                       content_type="multipart/form-data")
    assert_error(resp, status, code)
    assert_no_job(rt, user)
    assert_balance(rt, user, 3)
    assert not rt.storage.list_keys("inputs/")  # nothing was stored for a refused request


def test_oversize_upload_is_413_and_charges_nothing(settings, rt, coffee):
    # Just under the photo: the body itself stays within the endpoint's body limit.
    app = create_app(dataclasses.replace(settings, upload_max_bytes=len(coffee) - 1))
    client = app.test_client()
    u = make_user(rt, credits=3)
    token = get_token(client, u["api_key"])
    assert_error(upload(client, token, coffee), 413, "input_too_large")
    resp = client.post(ENDPOINT, headers=auth(token), json={
        "input_image_base64": base64.b64encode(coffee).decode()})
    assert_error(resp, 413, "input_too_large")
    assert_no_job(rt, u)
    assert_balance(rt, u, 3)
    app.extensions["bgr"].close()


def test_ssrf_in_bg_image_url_is_refused_and_refunded(client, rt, user, coffee, worker):
    resp = upload(client, user["token"], coffee,
                  bg_image_url="http://169.254.169.254/latest/meta-data/")
    assert_error(resp, 502, "input_url_forbidden")
    job = last_job(rt, user)
    assert job["status"] == "failed" and job["error_code"] == "input_url_forbidden"
    assert no_inputs_left(rt, str(job["id"]))
    assert not rt.storage.list_keys(f"outputs/{job['id']}")
    assert_balance(rt, user, 3)


def test_undecodable_upload_fails_in_the_worker_and_is_refunded(client, rt, user, coffee,
                                                                worker):
    resp = upload(client, user["token"], coffee[:2000])  # a JPEG header, then nothing
    assert_error(resp, 422, "invalid_image")
    job = last_job(rt, user)
    assert job["status"] == "failed" and no_inputs_left(rt, str(job["id"]))
    assert_balance(rt, user, 3)


def test_large_uploads_through_gunicorn(gateway_url, rt):
    """A 4000x3000 photo (multi-megabyte body) as a file part, chunked, and as base64 in JSON."""
    from skimage import data as skdata

    big = jpeg(np.asarray(Image.fromarray(skdata.coffee()).resize((4000, 3000))))
    assert len(big) > 1_000_000
    u = make_user(rt, credits=3)
    token = requests.post(f"{gateway_url}/api/token", json={"key": u["api_key"]},
                          timeout=10).json()["access_token"]
    url = f"{gateway_url}{ENDPOINT}"
    plain = requests.post(url, headers=auth(token), files={"input_image": ("big.jpg", big)},
                          data={"size": "preview"}, timeout=120)
    encoded = requests.post(url, headers=auth(token), timeout=120, json={
        "input_image_base64": base64.b64encode(big).decode(), "size": "preview"})
    body, ctype = urllib3.encode_multipart_formdata({"input_image": ("big.jpg", big),
                                                     "size": "preview"})
    chunked = requests.post(url, headers={**auth(token), "Content-Type": ctype}, timeout=120,
                            data=(body[i:i + 65536] for i in range(0, len(body), 65536)))
    for resp in (plain, encoded, chunked):
        assert resp.status_code == 200, resp.text
        out = fetch_output(resp.json()["data"]["output_image"])
        assert out.size == (577, 433)  # 0.25 MP at 4:3
    assert_balance(rt, u, 0)


def test_format_is_an_alias_of_output_format(client, rt, user, coffee, worker):
    resp = upload(client, user["token"], coffee, format="webp", size="preview")
    assert resp.status_code == 200, resp.get_json()
    assert fetch_output(resp.get_json()["data"]["output_image"]).format == "WEBP"
    assert_error(upload(client, user["token"], coffee, format="jpg", output_format="png"),
                 400, "invalid_parameter")
    assert_balance(rt, user, 2)


def test_upload_over_the_pixel_limit_is_413_and_refunded(client, rt, user, worker):
    from tests.integration.test_remove_background import _bomb

    resp = client.post(ENDPOINT, headers=auth(user["token"]), content_type="multipart/form-data",
                       data={"input_image": (io.BytesIO(_bomb()), "bomb.png", "image/png")})
    assert_error(resp, 413, "input_too_large")
    job = last_job(rt, user)
    assert job["status"] == "failed" and no_inputs_left(rt, str(job["id"]))
    assert_balance(rt, user, 3)
