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
from pydantic.json_schema import models_json_schema


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    access_token: str = Field(description="An HS256 JWT.")
    token_type: Literal["bearer"]
    expires_in: int = Field(ge=1, description="Seconds.")


class Credits(_Closed):
    success: Literal[True]
    credits: int
    user_id: int


class ResultData(_Closed):
    output_image: str = Field(description="Presigned (or public) URL of the output.",
                              json_schema_extra={"format": "uri"})
    input_image: str | None = Field(description="The URL as sent; null for an upload.")


class RemoveBackgroundResult(_Closed):
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
    success: Literal[True]
    job_id: str = Field(json_schema_extra={"format": "uuid"})
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    finished_at: str | None = Field(json_schema_extra={"format": "date-time"})
    message: str | None = Field(None, description="Once succeeded.")
    data: ResultData | None = None
    error: JobError | None = None
    timings: dict[str, float] | None = Field(
        None, description="Seconds per worker stage (fetch, decode, segment, ...), once it ran.")


class Health(_Closed):
    status: Literal["ok"]


class Component(_Closed):
    ok: bool
    error: str | None = Field(None, description="Why it is down.")
    count: int | None = Field(None, ge=0, description="`workers`: live ones.")


class Components(_Closed):
    redis: Component
    postgres: Component
    s3: Component
    workers: Component


class Worker(BaseModel):
    """A live worker's heartbeat."""

    hostname: str
    pid: int
    queue: str
    model: str | None = None
    providers: list[str] | None = None
    precision: Literal["fp32", "int8"] | None = Field(
        None, description="The model file this worker runs (MODEL_PRECISION, auto resolved by "
                          "the worker's start-up self-check on its CPU).")
    precision_reason: str | None = Field(
        None, description='Why, e.g. "int8: agreement 0.995, mean error 0.0045, 1.9x faster '
                          'than fp32" or "fp32: int8 agreement 0.984 below 0.99 on AMD EPYC".')


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


# -- remove.bg's ---------------------------------------------------------------------------------
class RemoveBgErrorItem(BaseModel):
    title: str
    code: str
    detail: str | None = None


class RemoveBgError(_Closed):
    """remove.bg's error format."""

    errors: list[RemoveBgErrorItem] = Field(min_length=1)


class RemoveBgResultData(_Closed):
    result_b64: str = Field(json_schema_extra={"contentEncoding": "base64"})
    foreground_top: int = Field(ge=0)
    foreground_left: int = Field(ge=0)
    foreground_width: int = Field(ge=0)
    foreground_height: int = Field(ge=0)


class RemoveBgResult(_Closed):
    data: RemoveBgResultData


class RemoveBgCredits(BaseModel):
    total: int
    subscription: int
    payg: int
    enterprise: int


class RemoveBgApi(BaseModel):
    free_calls: int
    sizes: str


class RemoveBgAttributes(BaseModel):
    credits: RemoveBgCredits
    api: RemoveBgApi


class RemoveBgAccountData(BaseModel):
    attributes: RemoveBgAttributes


class RemoveBgAccount(BaseModel):
    data: RemoveBgAccountData


# Error is not here: gateway/openapi_base.py adds it (ERROR_SCHEMAS) to both documents.
MODELS: tuple[type[BaseModel], ...] = (
    Token, Credits, RemoveBackgroundResult, Job, Health, Readiness,
    OpenApiDocument, RemoveBgError, RemoveBgResult, RemoveBgAccount)


def response_schemas(models: tuple[type[BaseModel], ...] = MODELS) -> dict[str, Any]:
    """components.schemas entries of `models` (every one above by default) and of the models
    they nest."""
    _, top = models_json_schema([(m, "serialization") for m in models],
                                ref_template="#/components/schemas/{model}")
    return dict(top["$defs"])
