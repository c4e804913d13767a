"""The admin API's answers (gateway/admin_api.py), as typed models: its OpenAPI schemas come
from these, and the views return them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, WithJsonSchema

from gateway.account_models import (
    Closed,
    Day,
    NullableTimestamp,
    Page,
    Timestamp,
    UsageCounts,
    Wrapped,
)
from gateway.response_models import omitted

# Database rows carry UUIDs; the answers write them as strings.
Uuid = Annotated[uuid.UUID, PlainSerializer(str, return_type=str),
                 WithJsonSchema({"type": "string", "format": "uuid"})]
JobStatus = Literal["queued", "running", "succeeded", "failed"]


class User(Closed):
    id: int
    email: str
    created_at: Timestamp
    disabled_at: NullableTimestamp


class UserPage(Page[User]):
    """Users by id."""


class NewUserData(Closed):
    user_id: int
    api_key: str
    key_prefix: str
    credits: int


class NewUser(Wrapped[NewUserData]):
    """Created."""


class UserKey(Closed):
    prefix: str
    created_at: Timestamp
    last_used_at: NullableTimestamp
    revoked_at: NullableTimestamp


class RecentJob(Closed):
    id: Uuid
    status: str
    error_code: str | None
    created_at: Timestamp
    finished_at: NullableTimestamp


class UserStateData(Closed):
    user_id: int
    email: str
    created_at: Timestamp
    disabled_at: NullableTimestamp


class LimitValue(Closed):
    effective: int = Field(description="What applies now; 0: no limit.")
    override: int | None = Field(description="The user's own value; null: the default applies.")
    default: int = Field(description="The deployment's default (its setting).")


class UserLimits(Closed):
    rate_limit_per_minute: LimitValue = Field(
        description="Requests per minute on the customer APIs (`RATE_LIMIT_PER_MINUTE`).")
    max_concurrent: LimitValue = Field(
        description="Image requests in flight at once (`MAX_CONCURRENT_PER_USER`).")


class UserDetailData(UserStateData):
    credits: int
    ledger_balance: int
    limits: UserLimits
    in_flight: int | None = Field(
        description="Image requests of the user in flight now; null: Redis does not answer.")
    keys: list[UserKey]
    recent_jobs: list[RecentJob]


class UserDetail(Wrapped[UserDetailData]):
    """The user."""


class LimitsData(Closed):
    user_id: int
    limits: UserLimits


class Limits(Wrapped[LimitsData]):
    """The user's limits after the change."""


class UserState(Wrapped[UserStateData]):
    """The user's state after the change."""


class Key(Closed):
    id: int
    user_id: int
    prefix: str
    created_at: Timestamp
    last_used_at: NullableTimestamp
    revoked_at: NullableTimestamp


class KeyPage(Page[Key]):
    """Keys by id (never a secret)."""


class NewKeyData(Closed):
    user_id: int
    api_key: str
    key_prefix: str


class NewKey(Wrapped[NewKeyData]):
    """Issued."""


class RevokedKeyData(Closed):
    key_prefix: str
    user_id: int
    revoked_at: Timestamp


class RevokedKey(Wrapped[RevokedKeyData]):
    """Revoked."""


class BalanceData(Closed):
    user_id: int
    credits: int


class Balance(Wrapped[BalanceData]):
    """The balance after."""


class ReconciledData(Closed):
    user_id: int
    redis_before: int | None
    credits: int


class Reconciled(Wrapped[ReconciledData]):
    """Reconciled."""


class UsageRow(UsageCounts):
    date: Day
    user_id: int


class Usage(Closed):
    """Usage."""

    success: Literal[True] = True
    data: list[UsageRow]
    start: Timestamp = Field(alias="from")
    end: Timestamp = Field(alias="to")
    totals: UsageCounts


class LedgerRow(Closed):
    id: int
    created_at: Timestamp
    user_id: int
    email: str
    kind: Literal["grant", "charge", "refund", "correction"]
    amount: int
    job_id: Annotated[uuid.UUID | None, PlainSerializer(lambda v: v and str(v)),
                      WithJsonSchema({"type": ["string", "null"], "format": "uuid"})]
    note: str | None


class Ledger(Closed):
    """JSON (format=json), streamed; format=csv streams the same columns as CSV."""

    success: Literal[True] = True
    start: Timestamp = Field(alias="from")
    end: Timestamp = Field(alias="to")
    data: list[LedgerRow]


class JobLedgerRow(Closed):
    id: int
    kind: str
    amount: int
    note: str | None
    created_at: Timestamp


class JobData(Closed):
    id: Uuid
    user_id: int
    email: str
    api_key_id: int | None = None
    key_prefix: str | None = None
    status: JobStatus
    params: dict[str, Any]
    output_key: str | None = None
    output_image: str | None = omitted(format="uri")
    error_code: str | None = None
    error_message: str | None = None
    timings: dict[str, Any] | None = None
    notes: list[str] | None = omitted()
    attempts: int | None = None
    created_at: Timestamp
    started_at: NullableTimestamp = None
    finished_at: NullableTimestamp = None
    deadline_at: Timestamp | None = None
    ledger: list[JobLedgerRow] | None = None


class Job(Wrapped[JobData]):
    """The job."""


class AuditEntry(Closed):
    id: int
    at: Timestamp
    actor: str
    admin_token_id: int | None
    action: str
    target: str
    before: Any
    after: Any
    request_id: str | None


class AuditPage(Page[AuditEntry]):
    """The audit trail, newest first."""
