"""A user's own limits over the deployment's defaults (gateway/services/limits.py)."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.services import limits
from shared.config import Settings
from shared.errors import InvalidParameter

SETTINGS = dataclasses.replace(Settings(), rate_limit_per_minute=600, max_concurrent_per_user=0)


@pytest.mark.parametrize(("row", "rate", "concurrent"), [
    ({}, 600, 0),  # no row values: the defaults
    ({"rate_limit_per_minute": None, "max_concurrent": None}, 600, 0),
    ({"rate_limit_per_minute": 5, "max_concurrent": None}, 5, 0),
    ({"rate_limit_per_minute": None, "max_concurrent": 3}, 600, 3),
    ({"rate_limit_per_minute": 0, "max_concurrent": 0}, 0, 0),  # 0: no limit, not the default
])
def test_effective_takes_the_users_own_value_else_the_setting(row, rate, concurrent):
    assert limits.effective(SETTINGS, row) == limits.UserLimits(rate, concurrent)


def test_a_users_zero_beats_a_nonzero_default():
    strict = dataclasses.replace(SETTINGS, rate_limit_per_minute=3, max_concurrent_per_user=2)
    assert limits.effective(strict, {"rate_limit_per_minute": 0, "max_concurrent": 0}) == \
        limits.UserLimits(0, 0)


def test_describe_shows_what_applies_the_override_and_the_default():
    described = limits.describe(SETTINGS, {"rate_limit_per_minute": 120, "max_concurrent": None})
    assert described == {
        "rate_limit_per_minute": {"effective": 120, "override": 120, "default": 600},
        "max_concurrent": {"effective": 0, "override": None, "default": 0}}


@pytest.mark.parametrize("changes", [
    {"rate_limit_per_minute": 0}, {"rate_limit_per_minute": 1_000_000},
    {"max_concurrent": None}, {"max_concurrent": 100_000, "rate_limit_per_minute": None}])
def test_check_accepts(changes):
    limits.check(changes)


@pytest.mark.parametrize(("changes", "param"), [
    ({}, "body"),
    ({"max_concurrent": -1}, "max_concurrent"),
    ({"max_concurrent": 100_001}, "max_concurrent"),
    ({"rate_limit_per_minute": 1_000_001}, "rate_limit_per_minute"),
    ({"rate_limit_per_minute": True}, "rate_limit_per_minute"),  # JSON true is no number
    ({"rate_limit_per_minute": "60"}, "rate_limit_per_minute"),
    ({"rate_limit_per_minute": 1.5}, "rate_limit_per_minute"),
    ({"burst": 3}, "burst"),
])
def test_check_refuses_naming_the_field(changes, param):
    with pytest.raises(InvalidParameter) as caught:
        limits.check(changes)
    assert caught.value.details["param"] == param


def test_the_default_in_flight_limit_is_none_and_settings_refuse_negatives():
    assert Settings().max_concurrent_per_user == 0
    with pytest.raises(ValueError, match="MAX_CONCURRENT_PER_USER"):
        Settings.from_env({"APP_ENV": "development", "MAX_CONCURRENT_PER_USER": "-1"})
