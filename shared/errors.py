"""The error catalogue: one exception hierarchy; each class knows its code, status, message."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Internal server error."""

    status: int = 500
    code: str = "internal_error"

    # Extra response headers (Retry-After, ...) and an optional "data" block for the envelope.
    headers: dict[str, str] | None = None
    data: dict[str, Any] | None = None

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or (self.__doc__ or "").strip()
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The seed's envelope: success false, a message, and a machine-readable error block."""
        error: dict[str, Any] = {"code": self.code, **self.details}
        body: dict[str, Any] = {"success": False, "message": self.message, "error": error}
        if self.data is not None:
            body["data"] = self.data
        return body


class InvalidParameter(ApiError):
    """Invalid parameter."""

    status = 400
    code = "invalid_parameter"

    def __init__(self, param: str, message: str | None = None) -> None:
        super().__init__(message or f"Invalid value for '{param}'.", param=param)


class BadRequest(ApiError):
    """The request body must be a JSON object."""

    status = 400
    code = "bad_request"


class Unauthorized(ApiError):
    """Missing or invalid credentials."""

    status = 401
    code = "unauthorized"


class InvalidApiKey(Unauthorized):
    """Invalid or revoked API key."""

    code = "invalid_api_key"


class TokenExpired(Unauthorized):
    """The access token has expired."""

    code = "token_expired"


class InvalidToken(Unauthorized):
    """The access token is invalid."""

    code = "invalid_token"


class InvalidAdminToken(Unauthorized):
    """Missing or invalid admin token: send 'Authorization: Bearer <admin token>'."""

    code = "invalid_admin_token"


class InsufficientCredits(ApiError):
    """Insufficient credits."""

    status = 402
    code = "insufficient_credits"


class Forbidden(ApiError):
    """Forbidden."""

    status = 403
    code = "forbidden"


class InsufficientScope(Forbidden):
    """This admin token is read-only; this request needs a write token."""

    code = "insufficient_scope"


class NotFound(ApiError):
    """Not found."""

    status = 404
    code = "not_found"


class UserNotFound(NotFound):
    """User not found."""

    code = "user_not_found"


class KeyNotFound(NotFound):
    """API key not found."""

    code = "key_not_found"


class JobNotFound(NotFound):
    """Job not found."""

    code = "job_not_found"


class MethodNotAllowed(ApiError):
    """Method not allowed."""

    status = 405
    code = "method_not_allowed"


class Conflict(ApiError):
    """Conflict."""

    status = 409
    code = "conflict"


class LastActiveKey(Conflict):
    """This is your last active API key; send confirm=true to revoke it anyway."""

    code = "last_active_key"


class TooManyKeys(Conflict):
    """Too many active API keys; revoke one first."""

    code = "too_many_keys"


class PayloadTooLarge(ApiError):
    """The request body is too large."""

    status = 413
    code = "payload_too_large"


class InputTooLarge(ApiError):
    """The input image is too large."""

    status = 413
    code = "input_too_large"


class UnsupportedMediaType(ApiError):
    """Content-Type must be application/json."""

    status = 415
    code = "unsupported_media_type"


# The input formats both sides name in their refusals (gateway/forms.py sniffs them,
# worker/decode.py opens them).
IMAGE_FORMATS_TEXT = "PNG, JPEG, WebP, GIF, BMP, TIFF, HEIC/HEIF or AVIF"


class InvalidImage(ApiError):
    """The input is not a decodable image."""

    status = 422
    code = "invalid_image"


class UnknownForeground(InvalidImage):
    """Could not identify a foreground in the image."""

    code = "unknown_foreground"


class IdempotencyMismatch(ApiError):
    """This Idempotency-Key was used with a different request."""

    status = 422
    code = "idempotency_key_mismatch"


class RateLimited(ApiError):
    """Too many requests."""

    status = 429
    code = "rate_limited"


class ConcurrencyLimited(RateLimited):
    """Too many requests in flight at once."""

    code = "concurrency_limited"


class InputUnreachable(ApiError):
    """The input image URL could not be fetched."""

    status = 502
    code = "input_unreachable"


class InputRefused(ApiError):
    """The input image URL points at an address that is not allowed."""

    # design.md: "502 input URL unreachable or refused": we cannot fetch it, by policy.
    status = 502
    code = "input_url_forbidden"


class RequestTimeout(ApiError):
    """The request did not arrive in time."""

    # A client too slow with its headers or body (gateway/serving.py).
    status = 408
    code = "request_timeout"


class Overloaded(ApiError):
    """The service is overloaded; retry later."""

    status = 503
    code = "overloaded"


class DependencyDown(ApiError):
    """A backing service is unavailable; retry later."""

    status = 503
    code = "service_unavailable"


class StorageError(DependencyDown):
    """Object storage is unavailable."""

    code = "storage_unavailable"


class ProcessingTimeout(ApiError):
    """The image was not processed in time."""

    status = 504
    code = "timeout"


class ProcessingFailed(ApiError):
    """The image could not be processed."""

    status = 500
    code = "processing_failed"


def _all_subclasses(cls: type[ApiError]) -> list[type[ApiError]]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


# code -> class: the worker reports a code, the gateway turns it back into the same error.
BY_CODE: dict[str, type[ApiError]] = {c.code: c for c in [ApiError, *_all_subclasses(ApiError)]}


def from_code(code: str, message: str | None = None, **details: Any) -> ApiError:
    """Rebuild an error the worker reported by code (unknown codes become a 500)."""
    cls = BY_CODE.get(code, ApiError)
    err = ApiError.__new__(cls)
    ApiError.__init__(err, message, **details)
    return err
