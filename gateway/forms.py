"""Request bodies of both APIs: JSON, multipart or form fields -> schema values and checked uploads.

Uploads are checked here, before any credit is reserved: empty or not an image -> 422, over
UPLOAD_MAX_BYTES -> 413. Their bytes stay in the request's spooled file until gateway/jobs.py
streams them to S3; they never enter the task payload.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar

from flask import g, request
from pydantic import BaseModel, ValidationError
from werkzeug.datastructures import FileStorage

from shared.config import Settings
from shared.errors import (
    IMAGE_FORMATS_TEXT,
    InputTooLarge,
    InvalidImage,
    InvalidParameter,
    PayloadTooLarge,
    UnsupportedMediaType,
)

M = TypeVar("M", bound=BaseModel)

# What the worker decodes (worker/decode.py ALLOWED_FORMATS), by their first bytes.
_MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00",
          b"MM\x00*")
# HEIC/HEIF and AVIF are ISO BMFF files: "ftyp" at offset 4, then the major brand.
_BMFF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1",
                b"avif", b"avis")


@dataclass
class Upload:
    """One uploaded file, checked, not yet stored."""

    role: str  # "image" or "background": the input key's suffix (shared/storage.py)
    stream: BinaryIO
    length: int
    content_type: str

    def digest(self) -> str:
        """sha256 of the bytes (for Idempotency-Key: a retry must send the same file)."""
        sha = hashlib.sha256()
        self.stream.seek(0)
        for chunk in iter(lambda: self.stream.read(1 << 20), b""):
            sha.update(chunk)
        self.stream.seek(0)
        return sha.hexdigest()


def upload_body_limit(settings: Settings) -> int:
    """Largest body an upload endpoint reads: a base64 upload plus room for the other fields."""
    return settings.upload_max_bytes * 4 // 3 + 64 * 1024


def read_body(urlencoded: bool = False) -> tuple[dict[str, Any], dict[str, FileStorage]]:
    """(fields, files) of a JSON object, a multipart body, or (if allowed) a urlencoded one."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InvalidParameter("body", "The request body must be a JSON object.")
        return body, {}
    kinds = ("multipart/form-data", "application/x-www-form-urlencoded") if urlencoded \
        else ("multipart/form-data",)
    if request.mimetype not in kinds:
        raise UnsupportedMediaType("Content-Type must be " + " or ".join(
            ("application/json", *kinds)) + ".")
    fields = {name: request.form.get(name) for name in request.form}
    files = {name: request.files[name] for name in request.files}
    return fields, files


def refuse_big_body_without_upload(settings: Settings, has_upload: bool) -> None:
    """Only an upload may make a body larger than MAX_REQUEST_BYTES."""
    length = g.get("body_length") or request.content_length or 0  # (chunked: gateway/app.py)
    if not has_upload and length > settings.max_request_bytes:
        raise PayloadTooLarge()


def validate(model: type[M], fields: dict[str, Any], first: tuple[str, ...] = ()) -> M:
    """fields checked by model; the first problem -> InvalidParameter naming its field."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        errors = exc.errors()
    unknown = sorted(str(e["loc"][0]) for e in errors if e["type"] == "extra_forbidden")
    if unknown:
        raise InvalidParameter(unknown[0], f"Unknown parameter '{unknown[0]}'.") from None
    rank = {name: i for i, name in enumerate(first)}
    error = min(errors, key=lambda e: rank.get(str(e["loc"][0]) if e["loc"] else "", len(rank)))
    name = str(error["loc"][0]) if error["loc"] else "body"
    if error["type"] == "missing":
        raise InvalidParameter(name, f"'{name}' is required.") from None
    reason = str(error.get("ctx", {}).get("error") or error["msg"])
    raise InvalidParameter(name, f"Invalid value for '{name}': {reason}.") from None


def file_upload(part: FileStorage, role: str, settings: Settings) -> Upload:
    """A multipart file part, checked."""
    stream = part.stream
    stream.seek(0, io.SEEK_END)
    length = stream.tell()
    stream.seek(0)
    return _checked(Upload(role, stream, length, part.mimetype or "application/octet-stream"),
                    settings)


def base64_upload(text: str, param: str, role: str, settings: Settings) -> Upload:
    """A base64 field (a data: URI prefix allowed), decoded and checked."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    text = "".join(text.split())
    if len(text) * 3 // 4 > settings.upload_max_bytes + 3:
        raise _too_large(settings)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter(param, f"'{param}' is not valid base64.") from None
    return _checked(Upload(role, io.BytesIO(data), len(data), "application/octet-stream"),
                    settings)


def _too_large(settings: Settings) -> InputTooLarge:
    return InputTooLarge(f"The uploaded image is larger than {settings.upload_max_bytes} bytes.")


def _checked(upload: Upload, settings: Settings) -> Upload:
    if upload.length == 0:
        raise InvalidImage("The uploaded image is empty.")
    if upload.length > settings.upload_max_bytes:
        raise _too_large(settings)
    head = upload.stream.read(16)
    upload.stream.seek(0)
    if not (head.startswith(_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")
            or (head[4:8] == b"ftyp" and head[8:12] in _BMFF_BRANDS)):
        raise InvalidImage(f"The upload is not an image ({IMAGE_FORMATS_TEXT}).")
    return upload


def release_body(uploads: list[Upload]) -> None:
    """Drop the request's body from memory once its uploads are in S3, before the long wait.

    A held request would otherwise keep, for as long as it waits, the raw body Werkzeug cached,
    its parsed JSON (a base64 image twice over), the decoded or spooled upload and the parsed
    form: megabytes per request where a waiting request should cost kilobytes. Nothing reads
    the body after the job is sent (the answer is built from the parameters and the result).
    """
    for upload in uploads:
        upload.stream.close()  # a BytesIO frees its buffer; a spooled temp file its file
    req = request._get_current_object()  # type: ignore[attr-defined]
    req._cached_data = b""
    req._cached_json = (None, None)
    for cached in ("form", "files"):  # Werkzeug's cached_property values
        req.__dict__.pop(cached, None)
    if isinstance(req.environ.get("wsgi.input"), io.BytesIO):  # a chunked body (gateway/app.py)
        req.environ["wsgi.input"] = io.BytesIO()
        req.__dict__.pop("stream", None)
