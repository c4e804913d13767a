"""The playground's model picker reads GET /api/v1/models: family, side, licence, workers."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.stack import make_user, wait_for_heartbeat
from tests.web.pages import open_playground


def test_the_picker_lists_the_served_models(page, rt):
    wait_for_heartbeat(rt)
    open_playground(page, make_user(rt, credits=1)["api_key"])
    options = page.locator("#model option")
    expect(options).to_have_count(2)  # the session's stack serves u2netp (default) and u2net
    expect(options.nth(0)).to_have_text(
        re.compile(r"^u2netp · u2net, 320 px · Apache-2\.0 · [1-9]\d* workers? \(default\)$"))
    expect(options.nth(1)).to_have_text("u2net · u2net, 320 px · Apache-2.0 · 0 workers")
    expect(page.locator("#model")).to_have_value("u2netp")
    assert options.nth(1).get_attribute("value") == "u2net"
