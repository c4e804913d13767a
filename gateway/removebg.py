"""The remove.bg-compatible API: POST /v1.0/removebg and GET /v1.0/account, by X-Api-Key.

Same accounts, keys, credits, queue and options engine as our own endpoint; remove.bg's request
fields, answers (the image, or JSON with Accept: application/json), headers and error format.
One credit per image, whatever its size (remove.bg charges 0.25 for a preview).
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Response, request

from gateway import forms, jobs
from gateway.context import runtime
from gateway.contract import FORM, JSON, MULTIPART, Answer, Body, Routes
from gateway.forms import Upload
from gateway.guards import API_KEY, current_key_id, current_user_id
from gateway.removebg_models import (
    RemoveBgAccount,
    RemoveBgAccountData,
    RemoveBgApi,
    RemoveBgAttributes,
    RemoveBgCredits,
    RemoveBgHeaders,
    RemoveBgResult,
    RemoveBgResultData,
)
from gateway.response_models import IMAGE_TYPES
from gateway.schemas import IdempotencyHeader, RemoveBgRequest
from shared.errors import (
    DependencyDown,
    InvalidParameter,
)

# remove.bg's statuses and error format (gateway/context.py renders them for /v1.0/).
routes = Routes("removebg", __name__, "/v1.0", tag="remove.bg", guard=API_KEY,
                rate_limited=True, wire="removebg")
bp = routes.bp


def _refusal(param: str, code: str, message: str) -> InvalidParameter:
    """A 400 with remove.bg's own code for it (gateway/context.py renders remove.bg's errors)."""
    err = InvalidParameter(param, message)
    err.removebg_code = code  # type: ignore[attr-defined]
    return err


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


@routes.post(
    "/removebg", headers=IdempotencyHeader,
    body=Body(RemoveBgRequest, media=(MULTIPART, FORM, JSON), parsed=False, files={
        "image_file": "The image file.", "bg_image_file": "A background photo."}),
    answer=Answer(RemoveBgResult, media=IMAGE_TYPES, headers=RemoveBgHeaders),
    errors=list(jobs.JOB_ERRORS))
def removebg() -> tuple[Response | RemoveBgResult, RemoveBgHeaders]:
    """remove.bg-compatible: remove the background of an image
    The image itself, or with `Accept: application/json` its base64 and the foreground box.
    One credit per image, whatever the size."""
    req, params, uploads = parse_request()  # before any reservation: refusals are free
    outcome = jobs.submit(current_user_id(), current_key_id(), params, uploads)
    data, headers = runtime().storage.get(outcome.result["output_key"])
    meta = {name: headers.get(f"x-amz-meta-{name}", "0") for name in
            ("width", "height", "fg-top", "fg-left", "fg-width", "fg-height")}
    answer_headers = RemoveBgHeaders(
        credits_charged="0" if outcome.replayed else "1",
        type="other" if req.type == "auto" else req.type,
        width=meta["width"], height=meta["height"], top=meta["fg-top"], left=meta["fg-left"],
        box_width=meta["fg-width"], box_height=meta["fg-height"])
    if request.accept_mimetypes.best_match(["image/*", "application/json"]) == JSON:
        return RemoveBgResult(data=RemoveBgResultData(
            result_b64=base64.b64encode(data).decode("ascii"),
            foreground_top=int(meta["fg-top"]), foreground_left=int(meta["fg-left"]),
            foreground_width=int(meta["fg-width"]),
            foreground_height=int(meta["fg-height"]))), answer_headers
    image = Response(data, mimetype=headers.get("content-type", "application/octet-stream"))
    return image, answer_headers


@routes.get("/account", answer=RemoveBgAccount, errors=[DependencyDown], op="removebgAccount")
def account() -> RemoveBgAccount:
    """remove.bg-compatible: credits from our ledger"""
    balance = runtime().credits.balance(current_user_id())
    return RemoveBgAccount(data=RemoveBgAccountData(attributes=RemoveBgAttributes(
        credits=RemoveBgCredits(total=balance, subscription=0, payg=balance, enterprise=0),
        api=RemoveBgApi(free_calls=0, sizes="all"))))
