"""The remove.bg-compatible API on the real stack: remove.bg's own samples, its PyPI client,
the options, headers, JSON answers, account, and every refusal in remove.bg's error format."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import requests
from PIL import Image
from skimage import data as skdata

from gateway.app import create_app
from tests.integration.test_remove_background import jpeg
from tests.integration.test_uploads import no_inputs_left
from tests.security.util import assert_balance, assert_no_job, last_job
from tests.stack import make_user
from tools.stack.processes import REPO

SAMPLES = REPO / "tests" / "removebg_examples"
FOREGROUND = ("X-Foreground-Top", "X-Foreground-Left", "X-Foreground-Width",
              "X-Foreground-Height")


@pytest.fixture(scope="module")
def photo(images, tmp_path_factory) -> dict:
    body = jpeg(skdata.coffee())  # 600x400
    path = tmp_path_factory.mktemp("photo") / "coffee.jpg"
    path.write_bytes(body)
    return {"bytes": body, "path": path, "url": images.add("rbg-coffee.jpg", body)}


def sample(name: str, gateway_url: str, key: str, photo: dict) -> str:
    text = (SAMPLES / name).read_text()
    for old, new in (("https://api.remove.bg", gateway_url), ("INSERT_YOUR_API_KEY_HERE", key),
                     ("/path/to/file.jpg", str(photo["path"])),
                     ("https://www.remove.bg/example.jpg", photo["url"])):
        text = text.replace(old, new)
    return text


def alpha_bbox(img: Image.Image) -> tuple[int, int, int, int]:
    alpha = img.getchannel("A") if img.mode == "RGBA" else img
    return alpha.getbbox()


def post(gateway_url: str, key: str | None, files=None, **data):
    headers = {"X-Api-Key": key} if key else {}
    headers.update(data.pop("headers", {}))
    return requests.post(f"{gateway_url}/v1.0/removebg", data=data, files=files,
                         headers=headers, timeout=120)


@pytest.mark.parametrize("name", ["curl_file.sh", "curl_url.sh", "python_file.py",
                                  "python_url.py"])
def test_remove_bg_samples_as_written(gateway_url, rt, photo, tmp_path, name):
    u = make_user(rt, credits=2)
    script = sample(name, gateway_url, u["api_key"], photo)
    argv = ["bash", "-c", script] if name.endswith(".sh") else [sys.executable, "-c", script]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0 and "Error" not in proc.stdout, proc.stdout + proc.stderr
    out = Image.open(tmp_path / "no-bg.png")
    # size=auto: full resolution; format auto: PNG, because the cut-out is transparent.
    assert (out.format, out.mode, out.size) == ("PNG", "RGBA", (600, 400))
    assert_balance(rt, u, 1)


@pytest.mark.parametrize("name", ["curl_json.sh", "python_base64.py"])
def test_json_answers(gateway_url, rt, photo, tmp_path, name):
    u = make_user(rt, credits=1)
    script = sample(name, gateway_url, u["api_key"], photo)
    argv = ["bash", "-c", script] if name.endswith(".sh") else [sys.executable, "-c", script]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    body = json.loads((tmp_path / "no-bg.json").read_text())["data"]
    img = Image.open(io.BytesIO(base64.b64decode(body["result_b64"])))
    left, top, right, bottom = alpha_bbox(img)
    assert (body["foreground_left"], body["foreground_top"], body["foreground_width"],
            body["foreground_height"]) == (left, top, right - left, bottom - top)
    assert img.size == (600, 400)
    assert_balance(rt, u, 0)


def test_headers_default_size_and_account(gateway_url, rt, photo):
    u = make_user(rt, credits=3)
    resp = post(gateway_url, u["api_key"], image_url=photo["url"], type="product")
    assert resp.status_code == 200, resp.text
    img = Image.open(io.BytesIO(resp.content))
    # The default size is preview (up to 0.25 MP), as remove.bg's.
    assert img.width * img.height <= 250_000 and abs(img.width / img.height - 1.5) < 0.01
    h = resp.headers
    assert h["Content-Type"] == "image/png" and h["X-Credits-Charged"] == "1"
    assert h["X-Type"] == "product"
    assert (int(h["X-Width"]), int(h["X-Height"])) == img.size
    left, top, right, bottom = alpha_bbox(img)
    assert [int(h[n]) for n in FOREGROUND] == [top, left, right - left, bottom - top]
    assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(h)
    assert int(h["X-RateLimit-Reset"]) > 1_700_000_000  # remove.bg's: a Unix time
    account = requests.get(f"{gateway_url}/v1.0/account", headers={"X-Api-Key": u["api_key"]},
                           timeout=10)
    assert account.status_code == 200
    assert account.json() == {"data": {"attributes": {
        "credits": {"total": 2, "subscription": 0, "payg": 2, "enterprise": 0},
        "api": {"free_calls": 0, "sizes": "all"}}}}


def test_options_alpha_zip_crop(gateway_url, rt, photo):
    u = make_user(rt, credits=4)
    files = {"image_file": ("coffee.jpg", photo["bytes"], "image/jpeg")}
    alpha = post(gateway_url, u["api_key"], files, size="full", channels="alpha")
    assert alpha.status_code == 200, alpha.text
    matte = Image.open(io.BytesIO(alpha.content))
    assert matte.mode == "L" and matte.size == (600, 400)
    top, left, width, height = (int(alpha.headers[n]) for n in FOREGROUND)

    zipped = post(gateway_url, u["api_key"], files, size="full", format="zip")
    assert zipped.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert sorted(archive.namelist()) == ["alpha.png", "color.jpg"]
        zip_alpha = Image.open(io.BytesIO(archive.read("alpha.png")))
        assert Image.open(io.BytesIO(archive.read("color.jpg"))).format == "JPEG"
    assert np.array_equal(np.asarray(zip_alpha), np.asarray(matte))

    cropped = post(gateway_url, u["api_key"], files, size="full", crop="true",
                   crop_margin="10px 20px")
    assert cropped.status_code == 200, cropped.text
    out = Image.open(io.BytesIO(cropped.content))
    # The crop is the mask's bounding box plus the margin (10 top/bottom, 20 left/right).
    assert out.size == (width + 40, height + 20)
    assert [int(cropped.headers[n]) for n in FOREGROUND] == [10, 20, width, height]

    jpg = post(gateway_url, u["api_key"], files, bg_color="81d4fa")
    assert jpg.headers["Content-Type"] == "image/jpeg"  # format auto: opaque -> jpg
    assert_balance(rt, u, 0)


def test_pypi_removebg_client_pointed_at_us(gateway_url, rt, photo, tmp_path, monkeypatch):
    import removebg.removebg as client_module
    from removebg import RemoveBg

    monkeypatch.setattr(client_module, "API_ENDPOINT", f"{gateway_url}/v1.0/removebg")
    monkeypatch.chdir(tmp_path)
    u = make_user(rt, credits=3)
    rmbg = RemoveBg(u["api_key"], str(tmp_path / "error.log"))
    rmbg.remove_background_from_img_file(str(photo["path"]))
    rmbg.remove_background_from_img_url(photo["url"], new_file_name="url.png")
    rmbg.remove_background_from_base64_img(base64.b64encode(photo["bytes"]).decode(),
                                           new_file_name="b64.png", bg_color="red")
    for path in (f"{photo['path']}_no_bg.png", tmp_path / "url.png", tmp_path / "b64.png"):
        img = Image.open(path)
        assert img.width * img.height <= 250_000  # the client's size "regular" = preview
    assert Image.open(tmp_path / "b64.png").format == "JPEG"  # opaque red: format auto -> jpg
    assert_balance(rt, u, 0)


def test_idempotency_key_replays_free(gateway_url, rt, photo):
    u = make_user(rt, credits=2)
    first = post(gateway_url, u["api_key"], image_url=photo["url"],
                 headers={"Idempotency-Key": "rbg-1"})
    again = post(gateway_url, u["api_key"], image_url=photo["url"],
                 headers={"Idempotency-Key": "rbg-1"})
    assert first.status_code == again.status_code == 200
    assert (first.headers["X-Credits-Charged"], again.headers["X-Credits-Charged"]) == ("1", "0")
    assert first.content == again.content
    assert_balance(rt, u, 1)


# -- refusals: remove.bg's shape and status, nothing charged, nothing left ---------------------
def assert_removebg_error(resp, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert list(body) == ["errors"] and len(body["errors"]) == 1, body
    error = body["errors"][0]
    assert error["code"] == code and error["title"] and error["detail"], body


def test_key_refusals_are_403(gateway_url, photo):
    for key in (None, "nonsense", "bgr_000000000000.wrong"):
        assert_removebg_error(post(gateway_url, key, image_url=photo["url"]), 403, "auth_failed")
    resp = requests.get(f"{gateway_url}/v1.0/account", timeout=10)
    assert_removebg_error(resp, 403, "auth_failed")


@pytest.mark.parametrize(("name", "fields", "files", "status", "code"), [
    ("no credits", {"image_url": "URL"}, None, 402, "insufficient_credits"),
    ("two sources", {"image_url": "URL"}, "image_file", 400, "multiple_sources"),
    ("no source", {"size": "auto"}, None, 400, "missing_source"),
    ("bad hex", {"bg_color": "#12345"}, "image_file", 400, "invalid_parameter"),
    ("bad format", {"format": "gif"}, "image_file", 400, "invalid_parameter"),
    ("not an image", {"image_file_b64": base64.b64encode(b"hello").decode()}, None, 400,
     "invalid_image"),
])
def test_gateway_refusals(gateway_url, rt, photo, name, fields, files, status, code):
    u = make_user(rt, credits=0 if name == "no credits" else 2)
    fields = {k: photo["url"] if v == "URL" else v for k, v in fields.items()}
    upload = {files: ("c.jpg", photo["bytes"], "image/jpeg")} if files else None
    assert_removebg_error(post(gateway_url, u["api_key"], upload, **fields), status, code)
    assert_no_job(rt, u)
    assert_balance(rt, u, 0 if name == "no credits" else 2)
    assert not rt.storage.list_keys("inputs/")


def test_ssrf_in_bg_image_url_is_400_and_refunded(gateway_url, rt, photo):
    u = make_user(rt, credits=2)
    resp = post(gateway_url, u["api_key"], {"image_file": ("c.jpg", photo["bytes"])},
                bg_image_url="http://169.254.169.254/latest/meta-data/")
    assert_removebg_error(resp, 400, "invalid_image_url")
    job = last_job(rt, u)
    assert job["status"] == "failed" and no_inputs_left(rt, str(job["id"]))
    assert_balance(rt, u, 2)


def test_oversize_upload_and_rate_limit(settings, rt, photo):
    app = create_app(dataclasses.replace(settings, upload_max_bytes=len(photo["bytes"]) - 1,
                                         rate_limit_per_minute=2))
    client = app.test_client()
    u = make_user(rt, credits=2)
    headers = {"X-Api-Key": u["api_key"]}
    resp = client.post("/v1.0/removebg", headers=headers, content_type="multipart/form-data",
                       data={"image_file": (io.BytesIO(photo["bytes"]), "c.jpg")})
    assert resp.status_code == 413 and resp.get_json()["errors"][0]["code"] == "file_too_large"
    client.get("/v1.0/account", headers=headers)
    limited = client.get("/v1.0/account", headers=headers)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.get_json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert_no_job(rt, u)
    assert_balance(rt, u, 2)
    app.extensions["bgr"].close()


def test_bg_image_file_upload_covers_the_output(gateway_url, rt, photo):
    u = make_user(rt, credits=1)
    blue = io.BytesIO()
    Image.new("RGB", (40, 30), (0, 0, 255)).save(blue, "PNG")
    resp = post(gateway_url, u["api_key"], {
        "image_file": ("c.jpg", photo["bytes"], "image/jpeg"),
        "bg_image_file": ("bg.png", blue.getvalue(), "image/png")}, size="full")
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "image/jpeg"  # format auto: opaque -> jpg
    out = Image.open(io.BytesIO(resp.content))
    r, g, b = out.getpixel((0, 0))
    assert out.size == (600, 400) and b > 240 and r < 15 and g < 15
    assert no_inputs_left(rt, str(last_job(rt, u)["id"]))
    assert_balance(rt, u, 0)
