"""/account in a real browser: credits, the charge of the job just made (with its thumbnail),
failures at no charge, usage per day, keys issued and revoked."""

from __future__ import annotations

import requests
from playwright.sync_api import expect

from tests.stack import make_user
from tests.web.pages import (
    open_playground,
    remove_background,
    use_key,
    wait_for_error,
    wait_for_result,
)


def test_account_shows_the_charge_of_the_job_just_made(page, rt, photos, tmp_path):
    user = make_user(rt, credits=4)
    open_playground(page, user["api_key"])
    remove_background(page, photos["coffee"])
    wait_for_result(page)
    job_id = page.locator("#fact-job").inner_text()
    fake = tmp_path / "notes.jpg"
    fake.write_text("not an image")
    remove_background(page, fake)
    wait_for_error(page)

    page.get_by_role("link", name="Account").click()  # the key stays in this tab
    expect(page.locator("#credits")).to_have_text("3")
    row = page.locator(f"tr[data-job='{job_id}']")
    expect(row.locator("[data-charge]")).to_have_text("1")
    expect(row).to_contain_text("succeeded")
    thumb = row.locator("img.thumb")
    expect(thumb).to_be_visible()
    page.wait_for_function("img => img.naturalWidth === 600", arg=thumb.element_handle())
    rows = page.locator("tr[data-job]")
    expect(rows).to_have_count(1)  # a refusal before the reservation leaves no job
    expect(page.locator("#images-30")).to_have_text("1")
    expect(page.locator("#charged-30")).to_have_text("1")
    expect(page.locator("#chart rect.bar")).not_to_have_count(0)


def test_a_failed_job_is_listed_at_no_charge(page, rt, images):
    user = make_user(rt, credits=2)
    missing = images.add("gone.jpg", b"", "image/jpeg")  # an empty answer: the worker fails
    page.goto("/playground")
    use_key(page, user["api_key"])
    remove_background(page, url=missing)
    wait_for_error(page)
    page.goto("/account")
    row = page.locator("tr[data-job]").first
    expect(row).to_contain_text("failed")
    expect(row.locator("[data-charge]")).to_have_text("0")
    expect(page.locator("#credits")).to_have_text("2")


def test_keys_are_issued_and_revoked(page, rt, gateway_url):
    user = make_user(rt, credits=1)
    page.goto("/account")
    use_key(page, user["api_key"])
    expect(page.locator("tr[data-key]")).to_have_count(1)
    expect(page.locator(f"tr[data-key='{user['key_prefix']}']")).to_contain_text("this page")

    page.get_by_role("button", name="Issue a new key").click()
    new_key = page.locator("#new-key-value").inner_text()
    assert new_key.startswith("bgr_") and "." in new_key
    expect(page.locator("tr[data-key]")).to_have_count(2)
    assert requests.post(f"{gateway_url}/api/token", json={"key": new_key},
                         timeout=10).status_code == 200

    prefix = new_key.split(".")[0]
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Revoke {prefix}").click()
    expect(page.locator(f"tr[data-key='{prefix}']")).to_contain_text("revoked")
    assert requests.post(f"{gateway_url}/api/token", json={"key": new_key},
                         timeout=10).status_code == 401


def test_without_a_key_the_page_asks_for_one(page):
    page.goto("/account")
    expect(page.get_by_role("alert")).to_have_text("Enter your API key to see your account.")
    expect(page.locator("#account")).to_be_hidden()
