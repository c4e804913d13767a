"""POST /api/v1/image/remove-background end to end: real gateway, worker, model and S3."""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from PIL import Image
from skimage import data as skdata

from gateway.app import create_app
from tests.stack import get_token, make_user
from tools.stack.processes import REPO, free_port

EXAMPLES = REPO / "tests" / "seed_examples"
GREEN = (0x2E, 0xC2, 0x7E)
GRAD = ((0xA8, 0x55, 0xF7), (0xEC, 0x48, 0x99))


def jpeg(array: np.ndarray, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "JPEG", quality=92, **save)
    return buf.getvalue()


@pytest.fixture(scope="session")
def photo(images) -> dict:
    """skimage's coffee photo (600x400): u2netp leaves all four corners fully transparent."""
    body = jpeg(skdata.coffee())
    return {"url": images.add("coffee.jpg", body), "bytes": body, "size": (600, 400)}


@pytest.fixture(scope="session")
def reference_alpha(photo, settings) -> np.ndarray:
    """rembg's own remove() on the same image with the same model, in this process."""
    os.environ["U2NET_HOME"] = settings.u2net_home
    import rembg

    session = rembg.new_session("u2netp", providers=["CPUExecutionProvider"])
    out = rembg.remove(Image.open(io.BytesIO(photo["bytes"])), session=session)
    return np.asarray(out)[:, :, 3]


def fetch_output(url: str) -> Image.Image:
    resp = requests.get(url, timeout=10)
    assert resp.status_code == 200, resp.text
    img = Image.open(io.BytesIO(resp.content))
    img.load()
    return img


def corners(img: Image.Image) -> list[tuple]:
    w, h = img.size
    return [img.getpixel(p) for p in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1))]


def classify(img: Image.Image) -> str:
    """Which seed variant produced this output: transparent, solid green, or the gradient."""
    c = corners(img.convert("RGBA"))
    if img.mode == "RGBA" and all(px[3] == 0 for px in c):
        return "basic"
    rgb = [px[:3] for px in c]
    if all(px == GREEN for px in rgb):
        return "bg_color"
    # diagonal-tl-br: top-left is the first colour, bottom-right the second.
    if rgb[0] == GRAD[0] and rgb[3] == GRAD[1]:
        return "gradient"
    return f"unknown {img.mode} {c}"


def check_seed_result(result: dict, photo: dict, balance_before: int | None = None) -> Image.Image:
    assert result["success"] is True
    assert result["message"] == "Background removed successfully"
    assert result["data"]["input_image"] == photo["url"]
    assert isinstance(result["credits_remaining"], int)
    img = fetch_output(result["data"]["output_image"])
    assert img.format == "PNG"
    assert img.size == photo["size"]
    return img


def host_replaced(name: str, gateway_url: str, **placeholders: str) -> str:
    text = (EXAMPLES / name).read_text().replace("https://heyswap.pro", gateway_url)
    for old, new in placeholders.items():
        assert old in text
        text = text.replace(old, new)
    return text


def test_seed_python_example(gateway_url, rt, photo, reference_alpha):
    u = make_user(rt, credits=5)
    token = requests.post(f"{gateway_url}/api/token", json={"key": u["api_key"]},
                          timeout=10).json()["access_token"]
    script = host_replaced("remove_background.py", gateway_url,
                           YOUR_JWT_AUTH_TOKEN=token,
                           **{"https://example.com/your-product.jpg": photo["url"]})
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=180)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("Success: ")]
    assert len(lines) == 3, proc.stdout + proc.stderr
    results = [ast.literal_eval(ln[len("Success: "):]) for ln in lines]
    imgs = [check_seed_result(r, photo) for r in results]
    assert [classify(i) for i in imgs] == ["basic", "bg_color", "gradient"]
    assert [r["credits_remaining"] for r in results] == [4, 3, 2]
    alpha = np.asarray(imgs[0])[:, :, 3].astype(int)
    # The same cut-out as rembg's, with its edges refined (REFINE=guided): the foregrounds
    # agree almost everywhere, the alpha differs only along the outline.
    ref = reference_alpha.astype(int)
    assert ((alpha >= 128) == (ref >= 128)).mean() > 0.98
    assert np.abs(alpha - ref).mean() < 6
    assert rt.credits.balance(u["user_id"]) == 2 == rt.credits.ledger_balance(u["user_id"])


def test_seed_javascript_example(gateway_url, rt, photo, tmp_path):
    u = make_user(rt, credits=5)
    token = requests.post(f"{gateway_url}/api/token", json={"key": u["api_key"]},
                          timeout=10).json()["access_token"]
    script = tmp_path / "example.js"
    script.write_text(host_replaced("removeBackground.js", gateway_url,
                                    YOUR_JWT_AUTH_TOKEN=token,
                                    **{"https://example.com/your-product.jpg": photo["url"]}))
    # Only console.log is swapped for a JSON printer so the test can read the results.
    hook = tmp_path / "hook.js"
    hook.write_text("console.log = (label, obj) => process.stdout.write("
                    "JSON.stringify({label, obj}) + '\\n');\n")
    proc = subprocess.run(["node", "--require", str(hook), str(script)], capture_output=True,
                          text=True, timeout=180)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["label"] for r in results] == ["Success:"] * 3
    kinds = sorted(classify(check_seed_result(r["obj"], photo)) for r in results)
    assert kinds == ["basic", "bg_color", "gradient"]
    assert sorted(r["obj"]["credits_remaining"] for r in results) == [2, 3, 4]


def _json_stream(text: str) -> list[dict]:
    decoder, out, i = json.JSONDecoder(), [], 0
    text = text.strip()
    while i < len(text):
        obj, i = decoder.raw_decode(text, i)
        out.append(obj)
        while i < len(text) and text[i].isspace():
            i += 1
    return out


def test_seed_curl_examples(gateway_url, rt, photo):
    u = make_user(rt, credits=10)
    script = host_replaced("curl_examples.sh", gateway_url, YOUR_API_KEY=u["api_key"],
                           **{"https://example.com/image.jpg": photo["url"]})
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=180)
    results = _json_stream(proc.stdout)
    assert len(results) == 3, proc.stdout + proc.stderr
    imgs = [check_seed_result(r, photo) for r in results]
    assert [classify(i) for i in imgs] == ["basic", "bg_color", "gradient"]

    # The endpoint's own examples: png, jpg on green, and the gradient.
    token = requests.post(f"{gateway_url}/api/token", json={"key": u["api_key"]},
                          timeout=10).json()["access_token"]
    script = host_replaced("curl_remove_background.sh", gateway_url, JWT_AUTH_TOKEN=token,
                           **{"https://example.com/image.jpg": photo["url"]})
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=180)
    png, jpg, grad = _json_stream(proc.stdout)
    assert classify(check_seed_result(png, photo)) == "basic"
    assert classify(check_seed_result(grad, photo)) == "gradient"
    out = fetch_output(jpg["data"]["output_image"])
    assert out.format == "JPEG" and out.mode == "RGB" and out.size == photo["size"]
    assert jpg["data"]["output_image"].split("?")[0].endswith(".jpg")
    for px in corners(out):  # JPEG is lossy: near the colour, not exact
        assert max(abs(a - b) for a, b in zip(px, GREEN, strict=True)) <= 6
    assert jpg["credits_remaining"] == 5  # 10 - 3 earlier - png - jpg
    assert rt.credits.balance(u["user_id"]) == 4


def test_seed_curl_token_refresh_credits(gateway_url, rt):
    u = make_user(rt, credits=84)

    def run(name: str, **placeholders: str) -> dict:
        script = host_replaced(name, gateway_url, **placeholders)
        proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
        return json.loads(proc.stdout)

    token = run("curl_auth.sh", YOUR_API_KEY=u["api_key"])["access_token"]
    refreshed = run("curl_refresh.sh", YOUR_CURRENT_JWT_AUTH_TOKEN=token)
    assert refreshed["token_type"] == "bearer" and refreshed["expires_in"] == 3600
    credits = run("curl_credits.sh", JWT_AUTH_TOKEN=refreshed["access_token"])
    assert credits == {"success": True, "credits": 84, "user_id": u["user_id"]}


# -- formats, orientation, backgrounds ------------------------------------------------------------
def post(client, token: str, **body: object):
    return client.post("/api/v1/image/remove-background", json=body,
                       headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(("fmt", "pil_format", "mode"), [
    ("png", "PNG", "RGBA"), ("webp", "WEBP", "RGBA"), ("jpg", "JPEG", "RGB")])
def test_output_formats(client, rt, photo, worker, fmt, pil_format, mode):
    u = make_user(rt, credits=1)
    resp = post(client, get_token(client, u["api_key"]), input_image=photo["url"],
                output_format=fmt)
    assert resp.status_code == 200, resp.get_json()
    out = fetch_output(resp.get_json()["data"]["output_image"])
    assert (out.format, out.mode, out.size) == (pil_format, mode, photo["size"])
    if fmt == "jpg":  # no background asked for: white
        assert all(min(px) >= 249 for px in corners(out))
    assert resp.get_json()["credits_remaining"] == 0


def test_exif_rotated_input_keeps_upright_size(client, rt, images, worker):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    body = jpeg(skdata.coffee(), exif=exif.tobytes())
    url = images.add("rotated.jpg", body)
    u = make_user(rt, credits=1)
    resp = post(client, get_token(client, u["api_key"]), input_image=url)
    assert resp.status_code == 200, resp.get_json()
    assert fetch_output(resp.get_json()["data"]["output_image"]).size == (400, 600)


@pytest.mark.parametrize("direction", ["vertical", "horizontal", "diagonal-tl-br",
                                       "diagonal-bl-tr"])
def test_gradient_directions_end_pixels(client, rt, photo, worker, direction):
    u = make_user(rt, credits=1)
    resp = post(client, get_token(client, u["api_key"]), input_image=photo["url"],
                bg_gradient="#a855f7:#ec4899", gradient_direction=direction)
    assert resp.status_code == 200, resp.get_json()
    tl, tr, bl, br = [px[:3] for px in corners(fetch_output(
        resp.get_json()["data"]["output_image"]))]
    expected = {"vertical": (tl, bl), "horizontal": (tl, tr), "diagonal-tl-br": (tl, br),
                "diagonal-bl-tr": (bl, tr)}[direction]
    assert expected == GRAD


def test_bg_color_overrides_gradient(client, rt, photo, worker):
    u = make_user(rt, credits=1)
    resp = post(client, get_token(client, u["api_key"]), input_image=photo["url"],
                bg_color="#2ec27e", bg_gradient="#a855f7:#ec4899")
    assert resp.status_code == 200
    assert classify(fetch_output(resp.get_json()["data"]["output_image"])) == "bg_color"


# -- failures: right status, envelope, balance unchanged ----------------------------------------
def _bomb() -> bytes:
    buf = io.BytesIO()
    Image.new("L", (12000, 12000)).save(buf, "PNG")  # 144 Mpx, ~150 KB
    return buf.getvalue()


FAILURES = [
    # (name, how to build the URL or body, status, code)
    ("unreachable", lambda im: f"http://127.0.0.1:{free_port()}/x.jpg", 502, "input_unreachable"),
    ("404", lambda im: im.add("exists.jpg", b"x").replace("exists", "missing"), 502,
     "input_unreachable"),
    ("html", lambda im: im.add("page.jpg", b"<html><body>hi</body></html>", "text/html"), 422,
     "invalid_image"),
    ("truncated", lambda im: im.add("trunc.jpg", jpeg(skdata.coffee())[:3000]), 422,
     "invalid_image"),
    ("oversize", lambda im: im.add("bomb.png", _bomb(), "image/png"), 413, "input_too_large"),
    ("loopback v6 outside allow-list", lambda im: f"http://[::1]:{im.port}/coffee.jpg", 502,
     "input_url_forbidden"),
    ("unspecified address", lambda im: f"http://0.0.0.0:{im.port}/coffee.jpg", 502,
     "input_url_forbidden"),
]


@pytest.mark.parametrize(("name", "url", "status", "code"), FAILURES, ids=[f[0] for f in FAILURES])
def test_worker_side_failures_refund(client, rt, images, photo, worker, name, url, status, code):
    u = make_user(rt, credits=3)
    resp = post(client, get_token(client, u["api_key"]), input_image=url(images))
    body = resp.get_json()
    assert resp.status_code == status, body
    assert body["success"] is False and body["error"]["code"] == code and body["message"]
    assert rt.credits.balance(u["user_id"]) == 3 == rt.credits.ledger_balance(u["user_id"])
    job = rt.db.all("recent_jobs", user_id=u["user_id"], limit=1)[0]
    assert job["status"] == "failed" and job["error_code"] == code
    assert not rt.storage.exists(f"outputs/{job['id']}.png")


@pytest.mark.parametrize(("body", "param"), [
    ({"input_image": "https://example.com/a.jpg", "bg_color": "#12345"}, "bg_color"),
    ({"input_image": "https://example.com/a.jpg", "bg_color": "reddish"}, "bg_color"),
    ({"input_image": "https://example.com/a.jpg", "bg_gradient": "#fff"}, "bg_gradient"),
    ({"input_image": "https://example.com/a.jpg", "bg_gradient": "#fff:#zzz"}, "bg_gradient"),
    ({"input_image": "https://example.com/a.jpg", "gradient_direction": "up"},
     "gradient_direction"),
    ({"input_image": "https://example.com/a.jpg", "output_format": "gif"}, "output_format"),
    ({"input_image": "ftp://example.com/a.jpg"}, "input_image"),
    ({"input_image": ""}, "input_image"),
    ({}, "input_image"),
    ({"input_image": "https://example.com/a.jpg", "size": "huge"}, "size"),
    ({"input_image": "https://example.com/a.jpg", "colour": "red"}, "colour"),
])
def test_invalid_parameters_are_400_naming_the_field(client, rt, body, param):
    u = make_user(rt, credits=2)
    resp = post(client, get_token(client, u["api_key"]), **body)
    out = resp.get_json()
    assert resp.status_code == 400, out
    assert out["success"] is False and out["error"] == {"code": "invalid_parameter",
                                                        "param": param}
    assert param in out["message"]
    assert rt.credits.balance(u["user_id"]) == 2
    assert rt.db.all("recent_jobs", user_id=u["user_id"], limit=1) == []


def test_no_credits_is_402_and_nothing_queued(client, rt, photo):
    u = make_user(rt, credits=0)
    resp = post(client, get_token(client, u["api_key"]), input_image=photo["url"])
    assert resp.status_code == 402
    assert resp.get_json()["error"]["code"] == "insufficient_credits"
    assert rt.db.all("recent_jobs", user_id=u["user_id"], limit=1) == []


def test_timeout_gives_504_then_the_job_endpoint_has_the_result(settings, rt, photo, worker):
    app = create_app(dataclasses.replace(settings, request_timeout_seconds=0.01))
    client = app.test_client()
    u = make_user(rt, credits=2)
    token = get_token(client, u["api_key"])
    resp = post(client, token, input_image=photo["url"])
    body = resp.get_json()
    assert resp.status_code == 504, body
    assert body["error"]["code"] == "timeout"
    job_id = body["data"]["job_id"]
    assert body["data"]["status_url"].endswith(f"/api/v1/jobs/{job_id}")
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + 60
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
        if job["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert job["status"] == "succeeded", job
    assert job["data"]["input_image"] == photo["url"]
    assert fetch_output(job["data"]["output_image"]).size == photo["size"]
    assert rt.credits.balance(u["user_id"]) == 1 == rt.credits.ledger_balance(u["user_id"])
    charges = [r for r in rt.db.all("ledger_for_job", job_id=job_id) if r["kind"] == "charge"]
    assert len(charges) == 1
    # Someone else asking for it gets a 404, as for a job that does not exist.
    other = make_user(rt, credits=0)
    resp = client.get(f"/api/v1/jobs/{job_id}",
                      headers={"Authorization": f"Bearer {get_token(client, other['api_key'])}"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "job_not_found"
    assert client.get("/api/v1/jobs/not-a-uuid", headers=headers).status_code == 404
    app.extensions["bgr"].close()


def test_job_record_has_stage_timings(client, rt, photo, worker):
    u = make_user(rt, credits=1)
    resp = post(client, get_token(client, u["api_key"]), input_image=photo["url"])
    assert resp.status_code == 200
    job = rt.db.all("recent_jobs", user_id=u["user_id"], limit=1)[0]
    record = rt.db.one("get_job", job_id=job["id"])
    assert set(record["timings"]) == {"fetch", "decode", "segment", "composite", "encode",
                                      "upload"}
    assert all(v >= 0 for v in record["timings"].values())
    assert record["attempts"] == 1


def test_wrong_content_type_is_415(client, rt):
    u = make_user(rt, credits=1)
    resp = client.post("/api/v1/image/remove-background", data="input_image=x",
                       headers={"Authorization": f"Bearer {get_token(client, u['api_key'])}",
                                "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 415
    assert resp.get_json()["error"]["code"] == "unsupported_media_type"


def test_examples_are_unchanged_copies():
    """The seed examples in tests/ are used as written: the host is their only placeholder."""
    for name in ("remove_background.py", "removeBackground.js", "curl_examples.sh"):
        assert "https://heyswap.pro/api/" in (EXAMPLES / name).read_text()
    assert Path(EXAMPLES / "README.md").exists()
