"""A real headless Chromium (Debian's, driven by Playwright) against the real test stack.

Every page a test opens is watched: a request to any other origin, a Content-Security-Policy
violation or a script error fails the test at teardown, whatever the test itself checked.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

# The flags this closed network needs: without the background-networking ones Chromium keeps
# trying to reach Google's hosts. Playwright adds --headless and a fresh --user-data-dir.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
# Chromium logs every 4xx/5xx answer to fetch() as a console error; the pages show those.
EXPECTED_CONSOLE = "Failed to load resource: the server responded with a status of"


def chromium_path() -> str:
    """CHROMIUM, else Debian's chromium (tools/setup.sh installs it)."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail("no Chromium: run `make setup` (apt-get install chromium chromium-driver)")
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@dataclass
class Watch:
    """What the pages of one test did: every request URL, and anything that went wrong."""

    origin: str
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def foreign(self) -> list[str]:
        """Requests that left the gateway's origin (blob: and data: URLs stay in the page)."""
        return [u for u in self.requests if urlsplit(u).scheme not in ("blob", "data")
                and origin_of(u) != self.origin]


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture()
def watch(gateway_url: str) -> Watch:
    return Watch(gateway_url)


@contextmanager
def watched_page(browser: Browser, base_url: str, watch: Watch) -> Iterator[Page]:
    """A fresh browser context (empty storage) on base_url; fails on what `watch` caught."""
    context = browser.new_context(base_url=base_url, accept_downloads=True,
                                  viewport={"width": 1280, "height": 900})
    context.on("request", lambda request: watch.requests.append(request.url))
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.on("console", lambda msg: msg.type == "error" and not msg.text.startswith(
        EXPECTED_CONSOLE) and watch.problems.append(f"console: {msg.text}"))
    tab.on("pageerror", lambda exc: watch.problems.append(f"page error: {exc}"))
    try:
        yield tab
    finally:
        context.close()
    assert not watch.foreign(), f"requests to another origin: {watch.foreign()}"
    assert not watch.problems, watch.problems


@pytest.fixture()
def page(browser: Browser, gateway_url: str, watch: Watch) -> Iterator[Page]:
    """A watched page on the test gateway (base_url: relative paths go there)."""
    with watched_page(browser, gateway_url, watch) as tab:
        yield tab


def jpeg_file(directory: Path, name: str, pixels) -> Path:
    """A JPEG of a skimage photo (numpy array) written to directory/name."""
    path = directory / name
    Image.fromarray(pixels).save(path, "JPEG", quality=92)
    return path


@pytest.fixture(scope="session")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real photos from scikit-image's wheel: astronaut (512x512), coffee (600x400)."""
    from skimage import data as skdata

    folder = tmp_path_factory.mktemp("photos")
    return {"astronaut": jpeg_file(folder, "astronaut.jpg", skdata.astronaut()),
            "coffee": jpeg_file(folder, "coffee.jpg", skdata.coffee())}


def image_of(path: str | Path) -> Image.Image:
    with open(path, "rb") as fh:
        return Image.open(io.BytesIO(fh.read()))
