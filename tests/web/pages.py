"""What a person does on the pages, as functions over a Playwright page."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

# The worker runs the real model on 2 shared cores: give a job time.
JOB_SECONDS = 90


def use_key(page: Page, api_key: str) -> None:
    """Type the key into the page's key form and submit it."""
    page.get_by_label("API key", exact=True).fill(api_key)
    page.get_by_role("button", name="Use key").click()


def open_playground(page: Page, api_key: str) -> None:
    page.goto("/playground")
    use_key(page, api_key)
    expect(page.locator("#credits")).not_to_have_text("–")


def remove_background(page: Page, photo: Path | None = None, url: str = "",
                      background: str = "none", **fields: str) -> None:
    """Pick the photo (or type the URL), set the options, press the button once."""
    if photo is not None:
        page.locator("#file").set_input_files(str(photo))
    if url:
        page.get_by_label("…or an image URL").fill(url)
    page.locator(f"input[name=bg][value={background}]").check()
    for name, value in fields.items():
        target = page.locator(f"#{name}")
        if target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    page.get_by_role("button", name="Remove background").click()


def wait_for_result(page: Page) -> None:
    """The result panel is shown, its image decoded."""
    expect(page.locator("#result")).to_be_visible(timeout=JOB_SECONDS * 1000)
    page.wait_for_function("document.getElementById('cutout').naturalWidth > 0")
    expect(page.locator("#fact-job")).not_to_be_empty()


def wait_for_error(page: Page) -> str:
    """The error region's text, once it shows one."""
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible(timeout=JOB_SECONDS * 1000)
    expect(page.get_by_role("button", name="Remove background")).to_be_enabled()
    return alert.inner_text()


def download(page: Page, folder: Path) -> Path:
    """Click the download link; where the browser saved the file."""
    with page.expect_download() as info:
        page.locator("#download").click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path
