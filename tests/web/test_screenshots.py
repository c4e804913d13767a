"""Screenshots of each page in a realistic state: into SCREENSHOT_DIR (`make screenshots`
writes docs/screenshots/, which docs/api.md shows), else into the test's temporary folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.stack import make_user
from tests.web.pages import open_playground, remove_background, use_key, wait_for_result


@pytest.fixture()
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_screenshots_of_every_page(page, rt, photos, shots):
    user = make_user(rt, credits=100)
    page.goto("/docs")
    expect(page.get_by_role("tab")).to_have_count(6)
    expect(page.locator(".opblock").first).to_be_visible()
    page.screenshot(path=shots / "docs.png")
    page.locator("#reference").scroll_into_view_if_needed()
    page.evaluate("() => document.getElementById('reference').scrollIntoView()")
    page.screenshot(path=shots / "docs-reference.png")

    open_playground(page, user["api_key"])
    remove_background(page, photos["astronaut"], background="gradient")
    wait_for_result(page)
    page.locator("#compare-range").fill("50")
    page.screenshot(path=shots / "playground.png", full_page=True)

    page.goto("/account")
    use_key(page, user["api_key"])
    expect(page.locator("img.thumb").first).to_be_visible()
    page.wait_for_function("[...document.querySelectorAll('img.thumb')]"
                           ".every(i => i.naturalWidth > 0)")
    page.screenshot(path=shots / "account.png", full_page=True)
    for name in ("docs", "docs-reference", "playground", "account"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
