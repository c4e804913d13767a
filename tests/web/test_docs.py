"""/docs in a real browser: the OpenAPI reference (Swagger UI, served by us) and the seed's
code examples with this deployment's base URL; the curl example runs as shown."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from tools.stack.processes import REPO
from gateway.openapi import DOCUMENT
from tests.stack import make_user

EXAMPLES = REPO / "web" / "static" / "examples"
# The API documentation we implement, beside the repository (shared/ of the project).
SEED = REPO.parent / "shared" / "seed" / "000_1c07326d06ebb46d.txt"
SEED_HOST = "https://heyswap.pro"
FROM_SEED = ("curl.sh", "python.py", "javascript.js", "php.php")


def open_docs(page) -> None:
    page.goto("/docs")
    expect(page.get_by_role("tab")).to_have_count(6)
    expect(page.locator(".opblock").first).to_be_visible()


def test_root_leads_to_the_docs(page, gateway_url):
    page.goto("/")
    assert page.url == f"{gateway_url}/docs"
    expect(page.get_by_role("heading", name="API docs")).to_be_visible()


def test_docs_list_every_path_of_the_openapi_document(page):
    open_docs(page)
    shown = page.locator(".opblock-summary-path").evaluate_all(
        "spans => spans.map(s => s.getAttribute('data-path'))")
    assert set(shown) == set(DOCUMENT["paths"])
    methods = page.locator(".opblock").count()
    assert methods == sum(len(item) for item in DOCUMENT["paths"].values())


def test_examples_carry_this_deployments_base_url(page, gateway_url):
    open_docs(page)
    expect(page.locator("#base-url")).to_have_text(gateway_url)
    codes = page.locator("code[data-example]")
    expect(codes).to_have_count(6)
    for text in codes.all_text_contents():
        assert gateway_url in text and "heyswap.pro" not in text and "{{" not in text
    # Each tab shows its own example; the arrow keys move between tabs.
    page.get_by_role("tab", name="PHP").click()
    expect(page.get_by_role("tabpanel")).to_contain_text("curl_setopt")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("tab", name="Upload a file")).to_be_focused()
    expect(page.get_by_role("tabpanel")).to_contain_text("-F input_image=@photo.jpg")


@pytest.mark.skipif(not SEED.exists(), reason="the seed document is not beside the repository")
@pytest.mark.parametrize("name", FROM_SEED)
def test_examples_are_the_seeds_own(name):
    text = (EXAMPLES / name).read_text().replace("{{BASE_URL}}", SEED_HOST)
    assert text.strip() in SEED.read_text()


def test_the_curl_example_runs_as_shown(page, rt, images, photos):
    """Copied from the page, with only the documentation's placeholders filled in."""
    user = make_user(rt, credits=5)
    url = images.add("docs-coffee.jpg", photos["coffee"].read_bytes(), "image/jpeg")
    open_docs(page)
    script = page.locator("code[data-example='curl.sh']").inner_text()
    script = script.replace("YOUR_API_KEY", user["api_key"]).replace(
        "https://example.com/image.jpg", url)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=180,
                          check=True)
    answers = re.findall(r'"message":\s*"([^"]+)"', done.stdout)
    assert answers == ["Background removed successfully"] * 3, done.stdout + done.stderr
    assert rt.credits.balance(user["user_id"]) == 2


def test_the_reference_assets_are_ours(gateway_url):
    for path in ("/web/vendor/swagger-ui/swagger-ui-bundle.js",
                 "/web/vendor/swagger-ui/swagger-ui.css"):
        resp = requests.get(f"{gateway_url}{path}", timeout=10)
        assert resp.status_code == 200 and len(resp.content) > 10_000
    # Only the allow-listed files of the package, nothing else under web/.
    for path in ("/web/vendor/swagger-ui/index.html", "/web/vendor/swagger-ui/package.json",
                 "/web/../pyproject.toml", "/web/%2e%2e/pyproject.toml"):
        assert requests.get(f"{gateway_url}{path}", timeout=10).status_code == 404, path


def test_examples_folder_holds_what_the_page_lists():
    listed = set(re.findall(r'"([\w.]+\.(?:sh|py|js|php))"',
                            (REPO / "web/static/js/docs.js").read_text()))
    assert listed == {p.name for p in Path(EXAMPLES).iterdir()}
