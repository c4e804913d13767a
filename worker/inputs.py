"""Inputs: where a job's images come from, and their removal once the job has ended.

The photo, and a background photo when one is asked for, are either uploads the gateway put in
S3 (input_key, options.bg_image_key) or URLs (input_image, options.bg_image_url), downloaded
SSRF-safe by worker/fetch.py. Uploads are deleted when the job ends, whatever its outcome (the
bucket's lifecycle rule is the backstop).
"""

from __future__ import annotations

import logging

from shared.errors import ApiError
from shared.options import OutputOptions
from shared.runtime import Runtime
from shared.tasks import RemoveBackgroundPayload
from worker import fetch

log = logging.getLogger("worker.inputs")


def photo_bytes(rt: Runtime, payload: RemoveBackgroundPayload) -> bytes:
    """The input photo: an upload the gateway put in S3, else the URL (fetched SSRF-safe)."""
    if payload.get("input_key"):
        return rt.storage.get(payload["input_key"])[0]
    return fetch.fetch_image(payload["input_image"], rt.settings)


def wants_background(options: OutputOptions) -> bool:
    """Whether the output goes on a background photo (bg_image_url, or an uploaded one)."""
    return bool(options.get("bg_image_key") or options.get("bg_image_url"))


def background_bytes(rt: Runtime, options: OutputOptions) -> bytes:
    """The background photo: an upload in S3, else bg_image_url (fetched SSRF-safe)."""
    if options.get("bg_image_key"):
        return rt.storage.get(options["bg_image_key"])[0]
    return fetch.fetch_image(options["bg_image_url"], rt.settings)


def drop_uploads(rt: Runtime, payload: RemoveBackgroundPayload) -> None:
    """Delete the job's uploaded objects (the photo, a background); a failure only logs."""
    for key in (payload.get("input_key"), (payload.get("options") or {}).get("bg_image_key")):
        if key:
            try:
                rt.storage.delete(key)
            except ApiError:
                log.warning("could not delete an uploaded input", extra={"key": key})
