"""Every page: a strict Content-Security-Policy header, and no request to another origin
(the `page` fixture fails a test on any such request, CSP violation or script error)."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from gateway.web import CSP
from tests.stack import make_user
from tests.web.pages import use_key

PAGES = ("/docs", "/playground", "/account")


@pytest.mark.parametrize("path", PAGES)
def test_pages_carry_a_strict_csp(gateway_url, path):
    resp = requests.get(f"{gateway_url}{path}", timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/html")
    policy = resp.headers["Content-Security-Policy"]
    assert policy == CSP
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and directives["script-src"] == "'self'"
    assert "unsafe" not in policy and "*" not in policy
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in resp.text  # no inline script: each page loads its modules


def test_every_page_loads_only_from_this_origin(page, rt, watch, gateway_url):
    user = make_user(rt, credits=1)
    for path in PAGES:
        page.goto(path)
        if path != "/docs":
            use_key(page, user["api_key"])
        page.wait_for_load_state("networkidle")
    expect(page.locator("#credits")).to_have_text("1")
    assert watch.requests and not watch.foreign()
    assert {f"{gateway_url}{p}" for p in PAGES} <= set(watch.requests)


def test_the_policy_stops_what_it_should(page, images, watch):
    """An injected inline script and a foreign image are refused by the browser, not fetched."""
    url = images.add("tracker.png", b"GIF89a", "image/gif")
    page.goto("/playground")
    page.evaluate("""url => {
        const s = document.createElement('script'); s.textContent = 'window.pwned = 1';
        document.body.append(s);
        const i = document.createElement('img'); i.src = url; document.body.append(i);
    }""", url)
    page.wait_for_timeout(300)
    assert page.evaluate("window.pwned") is None
    assert not images.hits["/tracker.png"].is_set()
    assert any("Content Security Policy" in p for p in watch.problems), watch.problems
    watch.problems.clear()  # expected here; any other test would fail on them
    watch.requests[:] = [u for u in watch.requests if u != url]


UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length)
                 && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')
                 && !e.getAttribute('title')
                 && !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map(e => e.outerHTML.slice(0, 80))"""


@pytest.mark.parametrize("path", PAGES)
def test_every_control_has_a_name_and_the_page_a_language(page, path):
    page.goto(path)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(UNLABELLED) == []
    assert page.locator("html").get_attribute("lang") == "en"
    # Ours; Swagger UI renders its operations in a <main> of its own inside it.
    assert page.locator("body > main#main").count() == 1
    assert page.get_by_role("navigation", name="Pages").count() == 1


def test_the_key_form_works_from_the_keyboard(page, rt):
    user = make_user(rt, credits=7)
    page.goto("/playground")
    page.keyboard.press("Tab")  # the skip link first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.get_by_label("API key", exact=True).focus()
    page.keyboard.type(user["api_key"])
    page.keyboard.press("Enter")
    expect(page.locator("#credits")).to_have_text("7")
