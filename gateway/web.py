"""The web front: /docs, /playground and /account, static files from the repository's web/.

Each page is one HTML file plus ES modules under web/static/, served as they are (no build
step, no templating: the pages read this deployment's base URL from `location.origin`). The
API reference is Swagger UI from the npm package swagger-ui-dist, installed into
web/node_modules by `make setup` (or the gateway image's build) and served from here: the pages
make no request to another origin, and their Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, redirect, send_from_directory

from gateway.context import runtime
from shared.errors import NotFound

bp = Blueprint("web", __name__)

PAGES = ("docs", "playground", "account")
# Only these files of the npm package are served (the rest are source maps and variants).
VENDOR_FILES = {"swagger-ui": ("swagger-ui-dist", {"swagger-ui-bundle.js", "swagger-ui.css"})}

# Same origin only, no inline script or style, no plugins, no framing. blob: images are the
# results the pages fetch with the user's token; data: images are Swagger UI's icons.
CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def web_root() -> Path:
    """Where web/ is: WEB_ROOT, else the repository's web/ beside this package."""
    configured = runtime().settings.web_root
    return Path(configured) if configured else Path(__file__).resolve().parents[1] / "web"


@bp.after_request
def _security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@bp.get("/")
def index() -> Any:
    """The front page is the API reference."""
    return redirect("/docs", code=302)


def _page(name: str) -> Response:
    response = send_from_directory(web_root(), f"{name}.html", mimetype="text/html")
    # Pages are small and change with each deployment: always revalidate (ETag).
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/docs")
def docs() -> Response:
    """The API reference (from /api/v1/openapi.json) and the code examples."""
    return _page("docs")


@bp.get("/playground")
def playground() -> Response:
    """Try the API on a photo: options, result, before/after, download."""
    return _page("playground")


@bp.get("/account")
def account() -> Response:
    """Credits, API keys, recent jobs and usage per day of the key's owner."""
    return _page("account")


@bp.get("/web/<path:filename>")
def asset(filename: str) -> Response:
    """A file under web/static/ (CSS, JS modules, examples, images)."""
    response = send_from_directory(web_root() / "static", filename)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/web/vendor/<package>/<filename>")
def vendor(package: str, filename: str) -> Response:
    """An allow-listed file of an npm package in web/node_modules/."""
    folder, allowed = VENDOR_FILES.get(package, ("", set()))
    if filename not in allowed:
        raise NotFound()
    directory = web_root() / "node_modules" / folder
    if not (directory / filename).is_file():
        raise NotFound(f"{package} is not installed: run `make setup` (npm ci in web/).")
    response = send_from_directory(directory, filename)
    response.headers["Cache-Control"] = "public, max-age=86400"  # pinned by package-lock.json
    return response


@bp.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for it whatever the page says; the same icon the pages link."""
    return send_from_directory(web_root() / "static" / "img", "favicon.svg",
                               mimetype="image/svg+xml")
