"""The admin HTTP API against real PostgreSQL and Redis: tokens, users, keys, credits, usage,
ledger export, jobs and the audit trail."""

from __future__ import annotations

import csv
import io
import json
import uuid

import psycopg
import pytest

from gateway.services.admin_tokens import AdminTokens
from gateway.services.audit import Actor
from tests.stack import get_token, make_admin_token, make_job, make_user

A = "/admin/v1"


@pytest.fixture()
def write(rt) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_admin_token(rt, 'write')}"}


@pytest.fixture()
def read(rt) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_admin_token(rt, 'read')}"}


def assert_error(resp, status: int, code: str) -> dict:
    body = resp.get_json()
    assert resp.status_code == status, body
    assert body["success"] is False and body["error"]["code"] == code, body
    return body


def test_tokens_are_stored_hashed_listed_by_prefix_and_revocable(rt, client):
    made = AdminTokens(rt.db).create("ops-bot", "read", Actor("cli:tests"))
    prefix, secret = made["token"].split(".", 1)
    assert prefix.startswith("bga_") and made["prefix"] == prefix
    row = rt.db.one("admin_token_get", prefix=prefix)
    assert secret not in json.dumps(row, default=str)
    listed = AdminTokens(rt.db).list(prefix[:8])
    assert prefix in {t["prefix"] for t in listed}
    assert all("secret_hash" not in t for t in listed)
    auth = {"Authorization": f"Bearer {made['token']}"}
    assert client.get(f"{A}/users", headers=auth).status_code == 200
    AdminTokens(rt.db).revoke(prefix, Actor("cli:tests"))
    assert_error(client.get(f"{A}/users", headers=auth), 401, "invalid_admin_token")


def test_customer_and_admin_credentials_never_cross(rt, client, write, user):
    token = get_token(client, user["api_key"])
    for headers in ({}, {"Authorization": f"Bearer {token}"},
                    {"Authorization": f"Bearer {user['api_key']}"},
                    {"Authorization": "Bearer bga_000000000000.nope"},
                    {"Authorization": write["Authorization"] + "x"}):
        assert_error(client.get(f"{A}/users", headers=headers), 401, "invalid_admin_token")
    # An admin token is no customer token, nor an API key.
    assert_error(client.get("/api/v1/user/credits", headers=write), 401, "invalid_token")
    assert_error(client.get("/api/v1/jobs", headers=write), 401, "invalid_token")
    admin_token = write["Authorization"].split()[1]
    assert_error(client.post("/api/token", json={"key": admin_token}), 401, "invalid_api_key")


def test_read_tokens_cannot_write(rt, client, read, user):
    resp = client.post(f"{A}/users/{user['user_id']}/credits", headers=read,
                       json={"credits": 5, "note": "x"})
    assert_error(resp, 403, "insufficient_scope")
    assert rt.credits.balance(user["user_id"]) == 10
    assert client.get(f"{A}/users/{user['user_id']}", headers=read).status_code == 200


def test_create_list_search_show_disable_enable(rt, client, write):
    tag = uuid.uuid4().hex[:8]
    created = []
    for i in range(3):
        resp = client.post(f"{A}/users", headers=write,
                           json={"email": f"adm-{tag}-{i}@example.com", "credits": 4})
        assert resp.status_code == 201, resp.get_json()
        created.append(resp.get_json()["data"])
    assert created[0]["credits"] == 4 and created[0]["api_key"].startswith("bgr_")
    assert_error(client.post(f"{A}/users", headers=write,
                             json={"email": f"adm-{tag}-0@example.com"}), 400,
                 "invalid_parameter")

    seen, cursor = [], None
    while True:
        query = f"?email={tag}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(f"{A}/users{query}", headers=write).get_json()
        seen += [u["email"] for u in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"adm-{tag}-{i}@example.com" for i in range(3)]
    assert_error(client.get(f"{A}/users?cursor=garbage", headers=write), 400,
                 "invalid_parameter")

    uid = created[1]["user_id"]
    shown = client.get(f"{A}/users/{uid}", headers=write).get_json()["data"]
    assert shown["credits"] == 4 == shown["ledger_balance"] and shown["disabled_at"] is None
    assert_error(client.get(f"{A}/users/999999999", headers=write), 404, "user_not_found")
    assert_error(client.get(f"{A}/users/abc", headers=write), 404, "user_not_found")

    token = get_token(client, created[1]["api_key"])
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/user/credits", headers=bearer).status_code == 200
    disabled = client.post(f"{A}/users/{uid}/disable", headers=write).get_json()["data"]
    assert disabled["disabled_at"]
    # At once: the token in hand and the key itself.
    assert client.get("/api/v1/user/credits", headers=bearer).status_code == 401
    assert_error(client.post("/api/token", json={"key": created[1]["api_key"]}), 401,
                 "invalid_api_key")
    assert client.post(f"{A}/users/{uid}/enable", headers=write).get_json()["data"][
        "disabled_at"] is None
    assert client.get("/api/v1/user/credits", headers=bearer).status_code == 200


def test_keys_issue_list_by_prefix_revoke(rt, client, write, user):
    uid = user["user_id"]
    issued = client.post(f"{A}/users/{uid}/keys", headers=write)
    assert issued.status_code == 201
    new = issued.get_json()["data"]
    assert new["api_key"].startswith(new["key_prefix"] + ".")
    listed = client.get(f"{A}/keys?prefix={new['key_prefix'][:10]}", headers=write).get_json()
    assert new["key_prefix"] in {k["prefix"] for k in listed["data"]}
    mine = client.get(f"{A}/keys?user_id={uid}", headers=write).get_json()["data"]
    assert {k["prefix"] for k in mine} == {user["key_prefix"], new["key_prefix"]}
    assert new["api_key"] not in json.dumps(mine)

    token = get_token(client, new["api_key"])
    revoked = client.delete(f"{A}/keys/{new['key_prefix']}", headers=write)
    assert revoked.status_code == 200 and revoked.get_json()["data"]["revoked_at"]
    assert client.get("/api/v1/user/credits",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert_error(client.delete(f"{A}/keys/bgr_nosuchkey", headers=write), 404, "key_not_found")


def test_grant_and_correct_with_a_note_never_below_zero(rt, client, write, user):
    url = f"{A}/users/{user['user_id']}/credits"
    resp = client.post(url, headers=write, json={"credits": 5, "note": "goodwill"})
    assert resp.get_json()["data"] == {"user_id": user["user_id"], "credits": 15}
    assert client.post(url, headers=write, json={"credits": -3, "note": "typo"}).get_json()[
        "data"]["credits"] == 12
    body = assert_error(client.post(url, headers=write, json={"credits": -13, "note": "x"}),
                        400, "invalid_parameter")
    assert body["error"]["param"] == "credits"
    assert_error(client.post(url, headers=write, json={"credits": 5}), 400, "invalid_parameter")
    assert_error(client.post(url, headers=write, json={"credits": 10**12, "note": "x"}), 400,
                 "invalid_parameter")
    assert_error(client.post(url, headers=write, json={"credits": 1, "note": "x", "y": 1}),
                 400, "invalid_parameter")
    assert_error(client.post(url, headers=write, data="credits=1"), 415,
                 "unsupported_media_type")
    assert rt.credits.balance(user["user_id"]) == 12 == rt.credits.ledger_balance(user["user_id"])
    notes = [r["note"] for r in rt.db.all("ledger_export", start="2000-01-01",
                                          end="2100-01-01", user_id=user["user_id"])]
    assert notes[-2:] == ["goodwill", "typo"]


def test_usage_by_day_and_ledger_export(rt, client, write, read):
    u = make_user(rt, credits=5)
    ok_job = make_job(rt, u, "succeeded")
    make_job(rt, u, "succeeded")
    make_job(rt, u, "failed")
    assert rt.credits.refund(ok_job, "operator_refund", "bad cutout")  # a charge given back
    usage = client.get(f"{A}/usage?user_id={u['user_id']}", headers=read).get_json()
    (day,) = usage["data"]
    assert (day["images_succeeded"], day["images_failed"], day["credits_charged"],
            day["credits_refunded"]) == (2, 1, 2, 1)
    assert usage["totals"]["credits_charged"] == 2
    everyone = client.get(f"{A}/usage", headers=read).get_json()
    assert u["user_id"] in {d["user_id"] for d in everyone["data"]}
    assert client.get(f"{A}/usage?from=2020-01-01&to=2020-01-02", headers=read).get_json()[
        "data"] == []
    assert_error(client.get(f"{A}/usage?from=2026-02-01&to=2026-01-01", headers=read), 400,
                 "invalid_parameter")
    assert_error(client.get(f"{A}/usage?from=2020-01-01&to=2026-01-01", headers=read), 400,
                 "invalid_parameter")
    assert_error(client.get(f"{A}/usage?to=yesterday", headers=read), 400, "invalid_parameter")

    resp = client.get(f"{A}/ledger?format=csv&user_id={u['user_id']}", headers=read)
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.mimetype == "text/csv" and "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert [r["kind"] for r in rows] == ["grant", "charge", "charge", "refund"]
    assert [int(r["amount"]) for r in rows] == [5, -1, -1, 1]
    as_json = client.get(f"{A}/ledger?user_id={u['user_id']}", headers=read)
    assert as_json.is_streamed
    assert [r["kind"] for r in as_json.get_json()["data"]] == [r["kind"] for r in rows]
    assert as_json.get_json()["data"][1]["job_id"] in {rows[1]["job_id"]}
    empty = client.get(f"{A}/ledger?format=csv&from=2020-01-01&to=2020-01-02", headers=read)
    assert empty.get_data(as_text=True).splitlines() == [
        "id,created_at,user_id,email,kind,amount,job_id,note"]
    assert_error(client.get(f"{A}/ledger?format=xml", headers=read), 400, "invalid_parameter")


def test_export_quotes_spreadsheet_formulas(rt, client, write, read):
    u = make_user(rt, credits=0)
    client.post(f"{A}/users/{u['user_id']}/credits", headers=write,
                json={"credits": 1, "note": "=HYPERLINK(\"http://x\")"})
    rows = list(csv.DictReader(io.StringIO(client.get(
        f"{A}/ledger?format=csv&user_id={u['user_id']}", headers=read).get_data(as_text=True))))
    assert rows[-1]["note"].startswith("'=")


def test_any_job_by_id(rt, client, read):
    u = make_user(rt, credits=2)
    job_id = make_job(rt, u, "succeeded")
    body = client.get(f"{A}/jobs/{job_id}", headers=read).get_json()["data"]
    assert body["user_id"] == u["user_id"] and body["status"] == "succeeded"
    assert [r["kind"] for r in body["ledger"]] == ["charge"] and body["output_image"]
    assert_error(client.get(f"{A}/jobs/{uuid.uuid4()}", headers=read), 404,
                 "job_not_found")
    assert_error(client.get(f"{A}/jobs/nope", headers=read), 404, "job_not_found")


def test_every_write_is_audited_and_the_trail_is_append_only(rt, client, write, settings):
    u = make_user(rt, credits=1)
    uid = u["user_id"]
    client.post(f"{A}/users/{uid}/credits", headers=write, json={"credits": 2, "note": "n"})
    client.post(f"{A}/users/{uid}/disable", headers=write)
    client.post(f"{A}/users/{uid}/enable", headers=write)
    client.post(f"{A}/users/{uid}/reconcile", headers=write)
    key = client.post(f"{A}/users/{uid}/keys", headers=write).get_json()["data"]
    client.delete(f"{A}/keys/{key['key_prefix']}", headers=write)

    trail = client.get(f"{A}/audit?target=user:{uid}", headers=write).get_json()["data"]
    actions = [e["action"] for e in trail]
    assert actions == ["credits.reconcile", "user.enable", "user.disable", "credits.grant",
                       "credits.grant", "user.create"]
    grant = trail[3]
    assert grant["before"] == {"balance": 1}
    assert grant["after"] == {"balance": 3, "amount": 2, "note": "n"}
    assert grant["actor"].startswith("admin:test-write-") and grant["admin_token_id"]
    assert trail[-1]["actor"].startswith("cli:")  # make_user goes through the CLI's function
    key_trail = client.get(f"{A}/audit?target=key:{key['key_prefix']}",
                           headers=write).get_json()["data"]
    assert [e["action"] for e in key_trail] == ["key.revoke", "key.issue"]
    assert key["api_key"] not in json.dumps(trail + key_trail)
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("UPDATE audit_log SET actor = 'someone else'")
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM audit_log")


def test_a_refused_write_is_not_audited(rt, client, write):
    u = make_user(rt, credits=1)
    before = len(client.get(f"{A}/audit?target=user:{u['user_id']}", headers=write)
                 .get_json()["data"])
    client.post(f"{A}/users/{u['user_id']}/credits", headers=write,
                json={"credits": -5, "note": "too much"})
    after = client.get(f"{A}/audit?target=user:{u['user_id']}", headers=write).get_json()
    assert len(after["data"]) == before


def test_unknown_routes_and_methods_speak_the_envelope(client, write):
    assert_error(client.get(f"{A}/nothing", headers=write), 404, "not_found")
    resp = client.put(f"{A}/users", headers=write)
    assert_error(resp, 405, "method_not_allowed")
    assert "GET" in resp.headers["Allow"]
