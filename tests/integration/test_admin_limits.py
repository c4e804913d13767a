"""A user's own limits through the admin API, against real PostgreSQL and Redis: shown with
the user, set and reset (null) one at a time, audited, refused when invalid (nothing written)."""

from __future__ import annotations

import pytest

from tests.security.util import assert_error
from tests.stack import make_admin_token, make_user

A = "/admin/v1"
DEFAULTS = {
    "rate_limit_per_minute": {"effective": 600, "override": None, "default": 600},
    "max_concurrent": {"effective": 0, "override": None, "default": 0}}


@pytest.fixture()
def write(rt) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_admin_token(rt, 'write')}"}


def _shown(client, headers, uid: int) -> dict:
    resp = client.get(f"{A}/users/{uid}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def _trail(client, headers, uid: int) -> list[dict]:
    return client.get(f"{A}/audit?target=user:{uid}&action=user.limits",
                      headers=headers).get_json()["data"]


def test_set_show_and_reset_each_limit_audited(rt, client, write, settings):
    assert (settings.rate_limit_per_minute, settings.max_concurrent_per_user) == (600, 0)
    uid = make_user(rt)["user_id"]
    shown = _shown(client, write, uid)
    assert shown["limits"] == DEFAULTS and shown["in_flight"] == 0

    resp = client.patch(f"{A}/users/{uid}/limits", headers=write,
                        json={"rate_limit_per_minute": 120})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json() == {"success": True, "data": {"user_id": uid, "limits": {
        "rate_limit_per_minute": {"effective": 120, "override": 120, "default": 600},
        "max_concurrent": DEFAULTS["max_concurrent"]}}}
    # The other limit is kept when the body does not name it.
    resp = client.patch(f"{A}/users/{uid}/limits", headers=write, json={"max_concurrent": 4})
    assert resp.get_json()["data"]["limits"]["rate_limit_per_minute"]["override"] == 120
    assert _shown(client, write, uid)["limits"] == {
        "rate_limit_per_minute": {"effective": 120, "override": 120, "default": 600},
        "max_concurrent": {"effective": 4, "override": 4, "default": 0}}
    # 0 is "no limit" for this user, distinct from null (the default).
    client.patch(f"{A}/users/{uid}/limits", headers=write, json={"rate_limit_per_minute": 0})
    assert _shown(client, write, uid)["limits"]["rate_limit_per_minute"] == {
        "effective": 0, "override": 0, "default": 600}
    resp = client.patch(f"{A}/users/{uid}/limits", headers=write,
                        json={"rate_limit_per_minute": None, "max_concurrent": None})
    assert resp.status_code == 200 and resp.get_json()["data"]["limits"] == DEFAULTS
    assert _shown(client, write, uid)["limits"] == DEFAULTS
    assert rt.db.one("get_user", user_id=uid)["max_concurrent"] is None

    trail = _trail(client, write, uid)  # newest first
    assert [(e["before"], e["after"]) for e in trail] == [
        ({"rate_limit_per_minute": 0, "max_concurrent": 4},
         {"rate_limit_per_minute": None, "max_concurrent": None}),
        ({"rate_limit_per_minute": 120, "max_concurrent": 4},
         {"rate_limit_per_minute": 0, "max_concurrent": 4}),
        ({"rate_limit_per_minute": 120, "max_concurrent": None},
         {"rate_limit_per_minute": 120, "max_concurrent": 4}),
        ({"rate_limit_per_minute": None, "max_concurrent": None},
         {"rate_limit_per_minute": 120, "max_concurrent": None})]
    assert all(e["actor"].startswith("admin:test-write-") and e["admin_token_id"]
               for e in trail)


@pytest.mark.parametrize(("body", "param"), [
    ({}, "body"),
    ({"max_concurrent": -1}, "max_concurrent"),
    ({"max_concurrent": 100_001}, "max_concurrent"),
    ({"rate_limit_per_minute": "60"}, "rate_limit_per_minute"),
    ({"rate_limit_per_minute": True}, "rate_limit_per_minute"),
    ({"rate_limit_per_minute": 2.5}, "rate_limit_per_minute"),
    ({"rate_limit_per_minute": 10, "burst": 5}, "burst"),
])
def test_invalid_limits_are_400_and_change_nothing(rt, client, write, body, param):
    uid = make_user(rt)["user_id"]
    resp = client.patch(f"{A}/users/{uid}/limits", headers=write, json=body)
    assert assert_error(resp, 400, "invalid_parameter")["error"]["param"] == param
    assert _shown(client, write, uid)["limits"] == DEFAULTS
    assert _trail(client, write, uid) == []


def test_limits_need_a_write_token_and_a_user(rt, client, write):
    uid = make_user(rt)["user_id"]
    read = {"Authorization": f"Bearer {make_admin_token(rt, 'read')}"}
    assert_error(client.patch(f"{A}/users/{uid}/limits", headers=read,
                              json={"max_concurrent": 1}), 403, "insufficient_scope")
    assert_error(client.patch(f"{A}/users/{uid}/limits", json={"max_concurrent": 1}), 401,
                 "invalid_admin_token")
    assert_error(client.patch(f"{A}/users/999999999/limits", headers=write,
                              json={"max_concurrent": 1}), 404, "user_not_found")
    assert_error(client.patch(f"{A}/users/{uid}/limits", headers=write, data="max=1"), 415,
                 "unsupported_media_type")
    assert _shown(client, write, uid)["limits"] == DEFAULTS
