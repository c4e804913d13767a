"""The query parameters of every route, as models: each field's type checks it (raising the 400
that names it) and documents it; a route declares its model with `query=` (gateway/contract.py).

Each check is a plain function over the raw value, so the messages are the ones the API has
always answered; the JSON Schema beside it is what the document shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from gateway.services import pages
from gateway.services.customer import JOB_STATUSES
from shared.errors import InvalidParameter


def text(name: str, max_length: int = 320) -> Callable[[Any], str | None]:
    """A text value, printable and bounded (PostgreSQL takes no NUL); empty is absent."""

    def check(raw: Any) -> str | None:
        if raw is None or raw == "":
            return None
        if len(raw) > max_length or not raw.isprintable():
            raise InvalidParameter(name, f"'{name}' must be at most {max_length} printable "
                                         "characters.")
        return str(raw)

    return check


def whole(name: str, minimum: int = 1) -> Callable[[Any], int | None]:
    """An integer of at least `minimum` (and a PostgreSQL bigint); empty is absent."""

    def check(raw: Any) -> int | None:
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            value = minimum - 1
        if value < minimum or value > 2**63 - 1:
            raise InvalidParameter(name, f"'{name}' must be an integer of at least {minimum}.")
        return value

    return check


def flag(name: str) -> Callable[[Any], bool]:
    """true/1/yes or false/0/no (or absent); anything else is 400."""

    def check(raw: Any) -> bool:
        value = str(raw).strip().lower()
        if value in ("", "false", "0", "no"):
            return False
        if value in ("true", "1", "yes"):
            return True
        raise InvalidParameter(name, f"'{name}' must be true or false.")

    return check


def one_of(name: str, values: tuple[str, ...]) -> Callable[[Any], str]:
    """One of `values`."""

    def check(raw: Any) -> str:
        if raw not in values:
            raise InvalidParameter(name, f"'{name}' must be {' or '.join(values)}.")
        return str(raw)

    return check


class Query(BaseModel):
    """Unknown query parameters are ignored, as they always were."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


Limit = Annotated[int, BeforeValidator(pages.parse_limit),
                  WithJsonSchema({"type": "integer", "minimum": 1, "maximum": pages.MAX_LIMIT}),
                  Field(description=f"Page size, 1 to {pages.MAX_LIMIT} "
                                    f"(default {pages.DEFAULT_LIMIT}).")]
Cursor = Annotated[str | None, Field(description="`next_cursor` of the previous page.")]
UserId = Annotated[int | None, BeforeValidator(whole("user_id")),
                   WithJsonSchema({"type": "integer", "minimum": 1}),
                   Field(description="Only this user.")]


class PageQuery(Query):
    """A listing's page: ?limit= and ?cursor=."""

    limit: Limit = pages.DEFAULT_LIMIT
    cursor: Cursor = None


class RangeQuery(Query):
    """A time range (shared/reports.py parses it: defaults, order, longest span)."""

    start: str | None = Field(None, alias="from", description=(
        "ISO 8601 date or date-time (UTC if no offset), inclusive; default 30 days before "
        "`to`."))
    end: str | None = Field(None, alias="to", description=(
        "ISO 8601 date or date-time, exclusive; default now."))


class JobsQuery(PageQuery):
    """GET /api/v1/jobs (the status is checked against the list by shared/customer.py)."""

    status: Annotated[str | None, BeforeValidator(text("status", 20)),
                      WithJsonSchema({"enum": list(JOB_STATUSES)})] = None


class RevokeQuery(Query):
    """DELETE /api/v1/user/keys/<prefix>."""

    confirm: Annotated[bool, BeforeValidator(flag("confirm")),
                       WithJsonSchema({"type": "boolean"})] = False


class UsersQuery(PageQuery):
    email: Annotated[str | None, BeforeValidator(text("email")),
                     Field(description="Any part of the address.")] = None


class KeysQuery(PageQuery):
    prefix: Annotated[str | None, BeforeValidator(text("prefix", 64)),
                      Field(description="The start of a key prefix.")] = None
    user_id: UserId = None


class UsageQuery(RangeQuery):
    user_id: UserId = None


class LedgerQuery(UsageQuery):
    format: Annotated[str, BeforeValidator(one_of("format", ("csv", "json"))),
                      WithJsonSchema({"enum": ["json", "csv"]}),
                      Field(description="json (default) or csv.")] = "json"


class AuditQuery(PageQuery):
    target: Annotated[str | None, BeforeValidator(text("target")),
                      Field(description="e.g. `user:12`, `key:bgr_3f9c1a2b4d5e`.")] = None
    action: Annotated[str | None, BeforeValidator(text("action")),
                      Field(description="e.g. `credits.grant`.")] = None
