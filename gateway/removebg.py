"""The remove.bg-compatible API: POST /v1.0/removebg and GET /v1.0/account, by X-Api-Key.

Same accounts, keys, credits, queue and options engine as our own endpoint; remove.bg's request
fields, answers (the image, or JSON with Accept: application/json), headers and error format.
One credit per image, whatever its size (remove.bg charges 0.25 for a preview).
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, g, jsonify, request

from gateway import forms, jobs
from gateway.auth import accounts, current_user_id
from gateway.context import runtime
from gateway.forms import Upload
from gateway.ratelimit import rate_limited
from gateway.schemas import RemoveBgRequest
from shared.errors import InvalidParameter, Unauthorized

bp = Blueprint("removebg", __name__, url_prefix="/v1.0")
F = TypeVar("F", bound=Callable[..., Any])

def _refusal(param: str, code: str, message: str) -> InvalidParameter:
    """A 400 with remove.bg's own code for it (gateway/context.py renders remove.bg's errors)."""
    err = InvalidParameter(param, message)
    err.removebg_code = code  # type: ignore[attr-defined]
    return err


def api_key_required(view: F) -> F:
    """Authenticate by the X-Api-Key header (one of our API keys; no JWT step)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get("X-Api-Key", "").strip()
        if not key:
            raise Unauthorized("Send your API key in the X-Api-Key header.")
        g.api_key_user, g.api_key_id = accounts().verify_key(key)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def parse_request() -> tuple[RemoveBgRequest, dict[str, Any], list[Upload]]:
    """The request, the job's parameters and its uploads (image, background photo)."""
    settings = runtime().settings
    fields, files = forms.read_body(urlencoded=True)
    has_upload = bool(files) or any(fields.get(n) for n in ("image_file_b64",
                                                            "bg_image_file_b64"))
    forms.refuse_big_body_without_upload(settings, has_upload)
    req = forms.validate(RemoveBgRequest, {k: v for k, v in fields.items()
                                           if k not in ("image_file", "bg_image_file")})
    sources = [n for n, v in (("image_file", files.get("image_file")),
                              ("image_file_b64", req.image_file_b64),
                              ("image_url", req.image_url)) if v]
    if not sources:
        raise _refusal("image_file", "missing_source", "No image given: send image_file, "
                       "image_file_b64 or image_url.")
    if len(sources) > 1:
        raise _refusal(sources[1], "multiple_sources", "Multiple image sources given: send "
                       "only one of image_file, image_file_b64 and image_url.")
    backgrounds = [n for n, v in (("bg_image_file", files.get("bg_image_file")),
                                  ("bg_image_file_b64", req.bg_image_file_b64),
                                  ("bg_image_url", req.bg_image_url),
                                  ("bg_color", req.bg_color)) if v]
    if len(backgrounds) > 1:
        raise _refusal(backgrounds[1], "multiple_backgrounds", "Send only one of bg_color, "
                       "bg_image_url, bg_image_file and bg_image_file_b64.")
    uploads: list[Upload] = []
    for role, part, b64 in (("image", "image_file", "image_file_b64"),
                            ("background", "bg_image_file", "bg_image_file_b64")):
        if files.get(part):
            uploads.append(forms.file_upload(files[part], role, settings))
        elif getattr(req, b64):
            uploads.append(forms.base64_upload(getattr(req, b64), b64, role, settings))
    params = {"input_image": req.image_url, "output_format": req.format,
              "bg_color": req.bg_color, "bg_gradient": None, "gradient_direction": None,
              "model": req.model,
              "options": {**req.output_options(), "require_foreground": True},
              "api": "removebg"}
    return req, params, uploads


@bp.post("/removebg")
@api_key_required
@rate_limited  # before any reservation: a refused request costs nothing
def removebg() -> Any:
    """Remove the background: the image itself, or JSON with Accept: application/json."""
    req, params, uploads = parse_request()
    outcome = jobs.submit(current_user_id(), g.api_key_id, params, uploads)
    data, headers = runtime().storage.get(outcome.result["output_key"])
    meta = {name: headers.get(f"x-amz-meta-{name}", "0") for name in
            ("width", "height", "fg-top", "fg-left", "fg-width", "fg-height")}
    answer_headers = {
        "X-Credits-Charged": "0" if outcome.replayed else "1",
        "X-Type": "other" if req.type == "auto" else req.type,
        "X-Width": meta["width"], "X-Height": meta["height"],
        "X-Foreground-Top": meta["fg-top"], "X-Foreground-Left": meta["fg-left"],
        "X-Foreground-Width": meta["fg-width"], "X-Foreground-Height": meta["fg-height"],
    }
    if request.accept_mimetypes.best_match(["image/*", "application/json"]) == \
            "application/json":
        response = jsonify({"data": {
            "result_b64": base64.b64encode(data).decode("ascii"),
            "foreground_top": int(meta["fg-top"]), "foreground_left": int(meta["fg-left"]),
            "foreground_width": int(meta["fg-width"]),
            "foreground_height": int(meta["fg-height"])}})
    else:
        response = Response(data, mimetype=headers.get("content-type",
                                                       "application/octet-stream"))
    response.headers.update(answer_headers)
    return response


@bp.get("/account")
@api_key_required
@rate_limited
def account() -> Any:
    """Credits from our ledger, in remove.bg's shape (all of them pay-as-you-go credits)."""
    balance = runtime().credits.balance(current_user_id())
    return jsonify({"data": {"attributes": {
        "credits": {"total": balance, "subscription": 0, "payg": balance, "enterprise": 0},
        "api": {"free_calls": 0, "sizes": "all"}}}})
