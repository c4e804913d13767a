"""A job that outlives the request (504 with its job id): the playground polls the job and
shows the result when it ends, charged once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tools.stack.processes import free_port, start_gateway, wait_http_ok
from tests.stack import make_user
from tests.web.conftest import Watch, watched_page
from tests.web.pages import open_playground, remove_background, wait_for_result


@pytest.fixture(scope="module")
def impatient_gateway(stack_env, services, worker) -> Iterator[str]:
    """A gateway that answers 504 after 0.02 s: every job outlives its request (a u2netp job on
    a fast CPU with int8, MODEL_PRECISION=auto's choice there, takes ~0.2 s: 0.2 s was a race)."""
    port = free_port()
    managed = start_gateway({**stack_env, "REQUEST_TIMEOUT_SECONDS": "0.02"}, port,
                            services.log_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/readyz", 60, managed.proc)
        yield url
    finally:
        managed.stop()


def test_a_504_is_polled_until_the_result(browser, impatient_gateway, rt, photos):
    user = make_user(rt, credits=3)
    watch = Watch(impatient_gateway)
    with watched_page(browser, impatient_gateway, watch) as page:
        open_playground(page, user["api_key"])
        remove_background(page, photos["astronaut"])
        expect(page.locator("#status")).to_contain_text("Waiting for the job")
        wait_for_result(page)
        expect(page.locator("#fact-credits")).to_have_text("2")
        job_id = page.locator("#fact-job").inner_text()
    assert rt.db.one("get_job", job_id=job_id)["status"] == "succeeded"
    assert rt.credits.balance(user["user_id"]) == 2
