"""The answers of the customer's self-service routes (gateway/selfservice.py), and the types
every JSON listing shares with the admin API: timestamps, pages, `{"success", "data"}`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from gateway.response_models import omitted
from gateway.services.customer import JOB_STATUSES

T = TypeVar("T")

# ISO 8601 as Python writes it (+00:00), as these answers always were; Flask would write RFC
# 822 dates, which neither sort nor parse well.
Timestamp = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str),
                      WithJsonSchema({"type": "string", "format": "date-time"})]
NullableTimestamp = Annotated[
    datetime | None, PlainSerializer(lambda v: v and v.isoformat(), return_type=str | None),
    WithJsonSchema({"type": ["string", "null"], "format": "date-time"})]
Day = Annotated[date | str, PlainSerializer(lambda v: str(v), return_type=str),
                WithJsonSchema({"type": "string", "format": "date"})]
Count = Annotated[int, Field(ge=0)]
KeyPrefix = Annotated[str, Field(description="The key's public prefix (`bgr_...`).")]


def _success_is_sent(schema: dict[str, Any]) -> None:
    # `success` has a default (views need not repeat it) yet is in every answer: required.
    if "success" in schema.get("properties", {}):
        schema["required"] = ["success", *(r for r in schema.get("required", ())
                                           if r != "success")]


class Closed(BaseModel):
    """An answer object: no field beyond those declared."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True,
                              json_schema_extra=_success_is_sent)


class Page(Closed, Generic[T]):
    success: Literal[True] = True
    data: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page.")


class Wrapped(Closed, Generic[T]):
    """{"success": true, "data": ...}."""

    success: Literal[True] = True
    data: T


class JobFailure(Closed):
    """Once failed."""

    code: str
    message: str
    status: int


class JobSummary(Closed):
    job_id: Annotated[str, Field(json_schema_extra={"format": "uuid"})]
    status: Literal[JOB_STATUSES]  # type: ignore[valid-type]
    created_at: Timestamp
    finished_at: NullableTimestamp
    input_image: str | None
    output_format: str | None
    credits_charged: Count = Field(description="Credits this job cost (its charge net of "
                                               "refunds, from the ledger).")
    output_image: str | None = omitted("Once succeeded (and while the output is kept).",
                                       format="uri")
    error: JobFailure | None = omitted("Once failed.")


class JobPage(Page[JobSummary]):
    """The caller's jobs, newest first."""


class UsageCounts(Closed):
    images_succeeded: Count
    images_failed: Count
    credits_charged: Count
    credits_refunded: Count


class UsageDay(UsageCounts):
    date: Day = Field(description="The UTC day.")


class Usage(Closed):
    """Usage by day."""

    success: Literal[True] = True
    data: list[UsageDay] = Field(description="Days with activity, oldest first.")
    start: Timestamp = Field(alias="from")
    end: Timestamp = Field(alias="to")
    totals: UsageCounts


class ApiKey(Closed):
    key_prefix: KeyPrefix
    created_at: Timestamp
    last_used_at: NullableTimestamp
    revoked_at: NullableTimestamp
    current: bool = Field(description="The key of the token of this request.")


class ApiKeys(Wrapped[list[ApiKey]]):
    """Every key of the caller, revoked ones included."""


class NewApiKeyData(Closed):
    api_key: str = Field(description="`<prefix>.<secret>`: shown this once.")
    key_prefix: KeyPrefix


class NewApiKey(Wrapped[NewApiKeyData]):
    """A new key."""


class RevokedKeyData(Closed):
    key_prefix: KeyPrefix
    revoked_at: Timestamp


class RevokedKey(Wrapped[RevokedKeyData]):
    """Revoked (again: unchanged)."""


def rows(model: type[BaseModel], items: list[dict[str, Any]]) -> list[Any]:
    """Database rows as `model`s (each row's extra columns ignored)."""
    names = set(model.model_fields)
    return [model(**{k: v for k, v in item.items() if k in names}) for item in items]
