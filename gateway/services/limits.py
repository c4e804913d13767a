"""A user's own limits: what an operator set (NULL: the deployment's default) and what applies.

Two per user, columns of `users` (migration 005): requests per minute (the rate limiter,
gateway/ratelimit.py) and image jobs in flight at once (gateway/services/concurrency.py). 0 means no
limit, for a user as for the settings that give the defaults (RATE_LIMIT_PER_MINUTE,
MAX_CONCURRENT_PER_USER). The gateway reads a user's columns in the query that already checks
the request's key or token on every request, so a change applies from the user's next request
and costs no extra round trip (gateway/guards.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.config import Settings
from shared.errors import InvalidParameter

# column of users -> (the setting that is its default, the largest value an operator may set:
# the CHECK constraints of migration 005; beyond them it is a typo, not a plan).
LIMITS: dict[str, tuple[str, int]] = {
    "rate_limit_per_minute": ("rate_limit_per_minute", 1_000_000),
    "max_concurrent": ("max_concurrent_per_user", 100_000),
}


@dataclass(frozen=True)
class UserLimits:
    """The limits that apply to one user (0: none)."""

    rate_limit_per_minute: int
    max_concurrent: int


def overrides(row: Mapping[str, Any]) -> dict[str, int | None]:
    """The user's own values from a row holding the limit columns (None: the default)."""
    return {column: row.get(column) for column in LIMITS}


def effective(settings: Settings, row: Mapping[str, Any]) -> UserLimits:
    """What applies to the user of `row`: their own value where set, else the setting."""
    values = {column: getattr(settings, setting) if row.get(column) is None else row[column]
              for column, (setting, _) in LIMITS.items()}
    return UserLimits(**values)


def describe(settings: Settings, row: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """For operators, per limit: the value that applies, the user's own (null: the default)
    and the default."""
    applied = effective(settings, row)
    return {column: {"effective": getattr(applied, column), "override": row.get(column),
                     "default": getattr(settings, setting)}
            for column, (setting, _) in LIMITS.items()}


def check(changes: Mapping[str, Any]) -> None:
    """Refuse what no user can have: unknown names, non-integers, values out of range."""
    if not changes:
        raise InvalidParameter("body", "Send rate_limit_per_minute and/or max_concurrent: a "
                               "number (0: no limit) or null (the default).")
    for name, value in changes.items():
        if name not in LIMITS:
            raise InvalidParameter(name, f"Unknown limit '{name}'.")
        top = LIMITS[name][1]
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise InvalidParameter(name, f"'{name}' must be an integer from 0 (no limit) to "
                                   f"{top}, or null (the default).")
