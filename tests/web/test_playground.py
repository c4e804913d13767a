"""The playground in a real browser: upload, result, download, backgrounds, errors, credits."""

from __future__ import annotations

import re

import numpy as np
import requests
from PIL import Image
from playwright.sync_api import expect

from tests.stack import make_user
from tests.web.conftest import image_of
from tests.web.pages import (
    download,
    open_playground,
    remove_background,
    wait_for_error,
    wait_for_result,
)


def test_upload_shows_the_cutout_and_downloads_it_with_alpha(page, rt, photos, tmp_path):
    user = make_user(rt, credits=5)
    open_playground(page, user["api_key"])
    expect(page.locator("#credits")).to_have_text("5")
    remove_background(page, photos["astronaut"])
    wait_for_result(page)

    saved = download(page, tmp_path)
    result = image_of(saved)
    assert saved.suffix == ".png"
    assert result.mode == "RGBA" and result.size == image_of(photos["astronaut"]).size
    alpha = np.asarray(result)[..., 3]
    assert alpha.min() == 0 and alpha.max() == 255  # a background removed, a subject kept
    # Side by side and the slider: the original is the picked file itself (a blob: URL).
    expect(page.locator("#original")).to_be_visible()
    expect(page.locator("#compare-block")).to_be_visible()
    page.locator("#compare-range").fill("20")
    assert page.locator("#compare").evaluate("e => e.style.getPropertyValue('--pos')") == "20%"

    job_id = page.locator("#fact-job").inner_text()
    job = rt.db.one("get_job", job_id=job_id)
    assert job["user_id"] == user["user_id"] and job["status"] == "succeeded"
    expect(page.locator("#fact-stages")).to_contain_text("segment")
    expect(page.locator("#fact-credits")).to_have_text("4")
    expect(page.locator("#credits")).to_have_text("4")
    assert rt.credits.balance(user["user_id"]) == 4


def corners(image) -> list[tuple[int, ...]]:
    w, h = image.size
    return [image.getpixel(xy) for xy in ((2, 2), (w - 3, 2), (2, h - 3), (w - 3, h - 3))]


def near(pixel: tuple[int, ...], rgb: tuple[int, int, int], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], rgb, strict=True))


def test_a_colour_background(page, rt, photos, tmp_path):
    user = make_user(rt, credits=3)
    open_playground(page, user["api_key"])
    remove_background(page, photos["coffee"], background="color", bg_color="#2ec27e")
    wait_for_result(page)
    result = image_of(download(page, tmp_path)).convert("RGBA")
    assert result.size == (600, 400)
    # coffee's corners are background: now the colour, opaque.
    assert all(near(p, (0x2E, 0xC2, 0x7E)) and p[3] == 255 for p in corners(result))


def test_a_gradient_background(page, rt, photos, tmp_path):
    user = make_user(rt, credits=3)
    open_playground(page, user["api_key"])
    remove_background(page, photos["coffee"], background="gradient", grad_from="#ff0000",
                      grad_to="#0000ff", gradient_direction="vertical", output_format="jpg")
    wait_for_result(page)
    saved = download(page, tmp_path)
    assert saved.suffix == ".jpg"
    top_left, top_right, bottom_left, bottom_right = corners(image_of(saved).convert("RGB"))
    assert near(top_left, (255, 0, 0), 30) and near(top_right, (255, 0, 0), 30)
    assert near(bottom_left, (0, 0, 255), 30) and near(bottom_right, (0, 0, 255), 30)


def test_a_wrong_key_shows_the_apis_message(page, gateway_url, photos):
    expected = requests.post(f"{gateway_url}/api/token", json={"key": "bgr_0000000000ff.nope"},
                             timeout=10).json()["message"]
    page.goto("/playground")
    page.get_by_label("API key", exact=True).fill("bgr_0000000000ff.nope")
    page.get_by_role("button", name="Use key").click()
    expect(page.get_by_role("alert")).to_contain_text(expected)
    remove_background(page, photos["coffee"])
    text = wait_for_error(page)
    assert expected in text and "invalid_api_key" in text and "HTTP 401" in text
    expect(page.locator("#result")).to_be_hidden()


def test_a_non_image_shows_the_apis_message_and_costs_nothing(page, rt, gateway_url, tmp_path):
    user = make_user(rt, credits=2)
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(b"These are not the pixels you are looking for.\n" * 20)
    token = requests.post(f"{gateway_url}/api/token", json={"key": user["api_key"]},
                          timeout=10).json()["access_token"]
    direct = requests.post(f"{gateway_url}/api/v1/image/remove-background",
                           headers={"Authorization": f"Bearer {token}"},
                           files={"input_image": ("holiday.jpg", fake.read_bytes())}, timeout=90)
    assert direct.status_code == 422
    open_playground(page, user["api_key"])
    expect(page.locator("#credits")).to_have_text("2")
    remove_background(page, fake)
    text = wait_for_error(page)
    assert direct.json()["message"] in text and "invalid_image" in text
    expect(page.locator("#status")).to_have_text("Nothing was charged for this request.")
    expect(page.locator("#credits")).to_have_text("2")
    assert rt.credits.balance(user["user_id"]) == 2


def test_credits_drop_by_one_per_success_only(page, rt, photos, tmp_path):
    user = make_user(rt, credits=3)
    open_playground(page, user["api_key"])
    bad = tmp_path / "empty.png"
    bad.write_bytes(b"")
    for photo, after in ((photos["coffee"], "2"), (bad, "2"), (photos["astronaut"], "1")):
        remove_background(page, photo)
        if after == "2" and photo == bad:
            wait_for_error(page)
        else:
            expect(page.locator("#fact-credits")).to_have_text(after, timeout=90_000)
        expect(page.locator("#credits")).to_have_text(after)
    assert rt.credits.balance(user["user_id"]) == 1


def test_a_large_upload_shows_progress_and_the_wait_its_time(page, rt, tmp_path):
    """A 6 MB photo over a throttled link: the bar moves, then the elapsed time counts."""
    user = make_user(rt, credits=2)
    noisy = np.random.default_rng(7).integers(0, 255, (1400, 1400, 3), dtype=np.uint8)
    big = tmp_path / "big.png"
    Image.fromarray(noisy).save(big, "PNG", compress_level=0)
    assert big.stat().st_size > 5_000_000
    open_playground(page, user["api_key"])
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": 4_000_000})  # bytes/s: about 1.5 s for the upload
    # Every text the status line shows, recorded as it changes: the wait's line may last
    # less than a poll when the worker is quick, and must still have been shown.
    page.evaluate("""() => { window.seenStatus = [];
        const status = document.getElementById('status');
        new MutationObserver(() => window.seenStatus.push(status.textContent))
            .observe(status, {childList: true, characterData: true, subtree: true}); }""")
    remove_background(page, big, size="preview")
    expect(page.locator("#progress")).to_be_visible()
    page.wait_for_function("() => { const v = document.getElementById('upload-bar').value;"
                           " return v > 0 && v < 100; }")
    expect(page.locator("#upload-text")).to_contain_text("MB of")
    wait_for_result(page)
    expect(page.locator("#progress")).to_be_hidden()
    seen = page.evaluate("() => window.seenStatus")
    assert any(re.fullmatch(r"Removing the background… \d+\.\d s", text) for text in seen), seen


def test_an_image_url_works_without_the_page_loading_it(page, rt, images, photos, watch):
    user = make_user(rt, credits=2)
    url = images.add("playground-coffee.jpg", photos["coffee"].read_bytes())
    open_playground(page, user["api_key"])
    remove_background(page, url=url, output_format="webp")
    wait_for_result(page)
    expect(page.locator("#original-frame")).to_contain_text("Fetched by the API from")
    expect(page.locator("#compare-block")).to_be_hidden()
    expect(page.locator("#fact-output")).to_contain_text("600 × 400 px, image/webp")
    assert url not in watch.requests  # the worker fetched it, not the browser


def test_a_heic_photo_is_sent_and_the_page_says_it_cannot_preview_it(page, rt, photos,
                                                                     tmp_path):
    import pillow_heif

    heic = tmp_path / "IMG_0001.HEIC"
    pillow_heif.from_pillow(image_of(photos["coffee"]).convert("RGB")).save(heic, quality=90)
    user = make_user(rt, credits=2)
    open_playground(page, user["api_key"])
    remove_background(page, heic, output_format="avif")
    wait_for_result(page)
    # Chromium shows no HEIC: the page says so (and hides the slider); the API cut it out.
    expect(page.locator("#no-preview")).to_contain_text("cannot show IMG_0001.HEIC")
    expect(page.locator("#compare-block")).to_be_hidden()
    saved = download(page, tmp_path)
    assert saved.suffix == ".avif" and image_of(saved).size == (600, 400)
    assert rt.credits.balance(user["user_id"]) == 1
