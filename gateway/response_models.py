"""The response bodies of our API and the remove.bg-compatible one as pydantic models: the
customer OpenAPI document's response schemas (gateway/openapi.py).

The views build their answers as plain dicts (jsonify keeps the seed's field order); these
models say what those dicts are, and schemathesis checks every real answer against them.
The error envelope (`Error`) is shared with the admin document: gateway/openapi_base.py puts
it in both. Not to be confused with gateway/responses.py, the helpers that build answers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# What the image endpoints' bytes may be (the output formats).
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/avif",
               "application/zip")


def omitted(description: str | None = None, **schema: Any) -> Any:
    """A field left out of the answer while None (the seed's answers omit what does not apply),
    optional in the schema."""
    return Field(None, description=description, exclude_if=lambda value: value is None,
                 json_schema_extra=schema or None)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobIdHeader(BaseModel):
    """Headers of a remove-background answer."""

    model_config = ConfigDict(populate_by_name=True)

    job_id: str = Field(alias="X-Job-Id",
                        description="The job's id (an extension: the body is the seed's).")


class ErrorDetail(BaseModel):
    """The machine-readable part of an error."""

    model_config = ConfigDict(extra="allow")

    code: str
    param: str | None = Field(None, description="400: the offending field.")
    credits: int | None = Field(None, description="402: the balance.")
    limit: int | None = Field(None, description="429: requests per minute.")
    retry_after: int | None = Field(None, description="429: seconds.")
    queue_depth: int | None = Field(None, description="503 `overloaded`.")


class TimeoutData(BaseModel):
    """504 `timeout`: where to poll for the job's outcome."""

    job_id: str = Field(json_schema_extra={"format": "uuid"})
    status_url: str = Field(json_schema_extra={"format": "uri"})


class Error(_Closed):
    """The one error envelope of every failed request (our API and the admin API; the
    remove.bg-compatible routes answer RemoveBgError)."""

    success: Literal[False]
    message: str
    error: ErrorDetail
    data: TimeoutData | None = None


class Token(_Closed):
    """An access token."""

    access_token: str = Field(description="An HS256 JWT.")
    token_type: Literal["bearer"]
    expires_in: int = Field(ge=1, description="Seconds.")


class Credits(_Closed):
    """The balance."""

    success: Literal[True]
    credits: int
    user_id: int


class ResultData(_Closed):
    output_image: str = Field(description="Presigned (or public) URL of the output.",
                              json_schema_extra={"format": "uri"})
    input_image: str | None = Field(description="The URL as sent; null for an upload.")


class RemoveBackgroundResult(_Closed):
    """The output image."""

    success: Literal[True]
    message: str
    data: ResultData
    credits_remaining: int = Field(description="The balance after this image's credit.")


class JobError(_Closed):
    """Once failed: what the request would have answered."""

    code: str
    message: str
    status: int


class Job(_Closed):
    """The job."""

    success: Literal[True]
    job_id: str = Field(json_schema_extra={"format": "uuid"})
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    finished_at: str | None = Field(json_schema_extra={"format": "date-time"})
    message: str | None = omitted("Once succeeded.")
    data: ResultData | None = omitted()
    error: JobError | None = omitted()
    timings: dict[str, float] | None = omitted(
        "Seconds per worker stage (fetch, decode, segment, ...), once it ran.")
    notes: list[str] | None = omitted(
        "What the worker noted, e.g. an unreadable ICC profile it ignored.")


class Health(_Closed):
    """Up."""

    status: Literal["ok"]


class Component(_Closed):
    ok: bool
    error: str | None = omitted("Why it is down.")
    count: Annotated[int, Field(ge=0)] | None = omitted("`workers`: live ones.")


class Components(_Closed):
    redis: Component
    postgres: Component
    s3: Component
    workers: Component


class Worker(BaseModel):
    """A live worker's heartbeat (its other fields pass through as the worker wrote them)."""

    model_config = ConfigDict(extra="allow")

    hostname: str
    pid: int
    queue: str
    model: str | None = omitted()
    providers: list[str] | None = omitted()
    precision: Literal["fp32", "int8"] | None = omitted(
        "The model file this worker runs (MODEL_PRECISION, auto resolved by the worker's "
        "start-up self-check on its CPU).")
    precision_reason: str | None = omitted(
        'Why, e.g. "int8: agreement 0.995, mean error 0.0045, 1.9x faster than fp32" or '
        '"fp32: int8 agreement 0.984 below 0.99 on AMD EPYC".')


class Readiness(_Closed):
    status: Literal["ready", "unavailable"]
    down: list[Literal["redis", "postgres", "s3", "workers"]]
    components: Components
    workers: list[Worker]
    models: dict[str, Annotated[int, Field(ge=0)]] = Field(
        description="Live workers per model this gateway serves (0: requests for it wait or "
                    "answer 503).")
    default_model: str = Field(description="The model used when a request names none.")


class OpenApiDocument(BaseModel):
    openapi: str = Field(pattern=r"^3\.1\.")
    info: dict[str, Any]
    paths: dict[str, Any]
