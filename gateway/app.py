"""The gateway's application factory: settings, extensions, blueprints, one error mapping."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from typing import Any

from flask import Flask, g, request
from flask.json.provider import DefaultJSONProvider
from flask_jwt_extended import JWTManager
from werkzeug.exceptions import HTTPException

from gateway.context import error_response
from shared.config import Settings
from shared.errors import ApiError, MethodNotAllowed, NotFound, PayloadTooLarge
from shared.runtime import Runtime

log = logging.getLogger("gateway")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from settings (default: the environment); nothing connects here."""
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config.update(
        JWT_SECRET_KEY=settings.jwt_secret_key,
        JWT_ALGORITHM="HS256",
        JWT_DECODE_ALGORITHMS=["HS256"],
        JWT_ACCESS_TOKEN_EXPIRES=timedelta(seconds=settings.jwt_expires_seconds),
        JWT_TOKEN_LOCATION=["headers"],
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
    )
    app.json = _JSONProvider(app)
    app.json.sort_keys = False  # keep the seed's field order: success, message, data, ...
    app.extensions["bgr"] = Runtime(settings, role="gateway")

    jwt = JWTManager(app)
    # Imported here, not at the top: the blueprints import prometheus_client (through
    # gateway/observability.py), whose first import fixes multiprocess mode (shared/metrics.py);
    # importing this module alone must not decide it.
    from gateway import (
        admin,
        admin_api,
        admission,
        api,
        auth,
        health,
        models_api,
        observability,
        openapi,
        openapi_admin,
        ratelimit,
        removebg,
        selfservice,
        web,
    )

    auth.register_jwt_callbacks(jwt)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(models_api.bp)
    app.register_blueprint(removebg.bp)
    app.register_blueprint(selfservice.bp)
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(openapi_admin.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(web.bp)  # /docs, /playground, /account and their files
    app.cli.add_command(admin.admin_cli)
    observability.init_app(app)  # /metrics; times, counts and log ids of every request
    admission.init_app(app, settings)  # 503 overloaded past GATEWAY_MAX_INFLIGHT
    ratelimit.init_app(app)
    _bound_streamed_bodies(app, settings)
    _register_error_handlers(app)
    return app


class _JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with too-deep nesting reported as invalid JSON (a 400), not a 500."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:
            # '[[[[...' fits in a small body and overflows the parser's stack: hostile input.
            raise ValueError("JSON nested too deeply") from exc


# Endpoints that take uploads: their bodies may reach an upload's size (gateway/forms.py).
UPLOAD_ENDPOINTS = frozenset({"api.remove_background", "removebg.removebg"})


def _bound_streamed_bodies(app: Flask, settings: Settings) -> None:
    """413 for a chunked body over the limit (Werkzeug would silently cut it at the limit)."""

    @app.before_request
    def _read_chunked_body() -> None:
        from gateway.forms import upload_body_limit

        limit = settings.max_request_bytes
        if request.endpoint in UPLOAD_ENDPOINTS:
            limit = upload_body_limit(settings)
            # Flask 3.1: per-request limits, for the body and for form fields (base64 in a form).
            request.max_content_length = request.max_form_memory_size = limit
        env = request.environ
        # Only bodies without Content-Length from a server that ends the stream (gunicorn does
        # for chunked requests); bodies with a length are checked by MAX_CONTENT_LENGTH.
        if request.content_length is not None or not env.get("wsgi.input_terminated"):
            return
        raw = env["wsgi.input"].read(limit + 1)
        if len(raw) > limit:
            raise PayloadTooLarge()
        env["wsgi.input"] = io.BytesIO(raw)
        env["CONTENT_LENGTH"] = str(len(raw))
        g.body_length = len(raw)  # request.content_length stays None while chunked


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError) -> Any:
        return error_response(err)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        # Flask's own 404 / 405 / 413 ... in the same envelope, never an HTML page.
        mapped: dict[int, type[ApiError]] = {404: NotFound, 405: MethodNotAllowed,
                                             413: PayloadTooLarge}
        cls = mapped.get(exc.code or 500)
        if cls is not None:
            err = cls()
            if exc.code == 405 and getattr(exc, "valid_methods", None):
                err.headers = {"Allow": ", ".join(exc.valid_methods)}  # RFC 9110 requires it
            return error_response(err)
        err = ApiError(exc.description or exc.name)
        err.status = exc.code or 500
        err.code = (exc.name or "error").lower().replace(" ", "_")
        return error_response(err)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Any:
        # Logged with its traceback for operators; the client gets the envelope only.
        log.exception("unhandled error")
        return error_response(ApiError())
