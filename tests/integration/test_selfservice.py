"""The customer's own jobs, usage and keys, with their own token, against real services."""

from __future__ import annotations

import pytest

from tests.stack import get_token, make_job, make_user


@pytest.fixture()
def me(rt, client) -> dict:
    user = make_user(rt, credits=10)
    user["auth"] = {"Authorization": f"Bearer {get_token(client, user['api_key'])}"}
    return user


def test_jobs_newest_first_paged_and_filtered(rt, client, me):
    made = [make_job(rt, me, outcome) for outcome in
            ("succeeded", "failed", "succeeded", "queued", "succeeded")]
    other = make_user(rt, credits=2)
    make_job(rt, other, "succeeded")

    seen, cursor = [], None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        resp = client.get(f"/api/v1/jobs{query}", headers=me["auth"])
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert len(body["data"]) <= 2
        seen += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [j["job_id"] for j in seen] == made[::-1]  # newest first; never another's
    by_id = {j["job_id"]: j for j in seen}
    assert by_id[made[0]]["output_image"].startswith("http")
    assert by_id[made[1]]["error"]["code"] == "input_unreachable"
    assert by_id[made[1]]["error"]["status"] == 502
    assert by_id[made[3]]["status"] == "queued" and by_id[made[3]]["finished_at"] is None

    failed = client.get("/api/v1/jobs?status=failed", headers=me["auth"]).get_json()
    assert [j["job_id"] for j in failed["data"]] == [made[1]]
    for query in ("?status=done", "?cursor=xyz", "?limit=0", "?limit=1000"):
        resp = client.get(f"/api/v1/jobs{query}", headers=me["auth"])
        assert resp.status_code == 400, query
        assert resp.get_json()["error"]["code"] == "invalid_parameter"
    assert client.get("/api/v1/jobs").status_code == 401
    rt.credits.refund(made[3], "test", "cleanup")


def test_usage_by_day_with_a_range(rt, client, me):
    make_job(rt, me, "succeeded")
    make_job(rt, me, "failed")
    body = client.get("/api/v1/user/usage", headers=me["auth"]).get_json()
    assert body["success"] is True
    (day,) = body["data"]
    assert day == {"date": day["date"], "images_succeeded": 1, "images_failed": 1,
                   "credits_charged": 1, "credits_refunded": 0}
    assert body["totals"]["images_succeeded"] == 1
    old = client.get("/api/v1/user/usage?from=2020-01-01&to=2020-02-01T00:00:00Z",
                     headers=me["auth"]).get_json()
    assert old["data"] == [] and old["from"].startswith("2020-01-01T00:00:00")
    bad = client.get("/api/v1/user/usage?from=tomorrow", headers=me["auth"])
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "from"


def test_keys_list_create_revoke_own(rt, client, me):
    listed = client.get("/api/v1/user/keys", headers=me["auth"]).get_json()["data"]
    assert [(k["key_prefix"], k["current"]) for k in listed] == [(me["key_prefix"], True)]

    created = client.post("/api/v1/user/keys", headers=me["auth"])
    assert created.status_code == 201
    new = created.get_json()["data"]
    assert new["api_key"].startswith(new["key_prefix"] + ".")
    listed = client.get("/api/v1/user/keys", headers=me["auth"]).get_json()["data"]
    assert {k["key_prefix"] for k in listed} == {me["key_prefix"], new["key_prefix"]}
    assert new["api_key"] not in str(listed)

    # Revoking the key of the token in hand: that token fails at once.
    new_auth = {"Authorization": f"Bearer {get_token(client, new['api_key'])}"}
    resp = client.delete(f"/api/v1/user/keys/{me['key_prefix']}", headers=me["auth"])
    assert resp.status_code == 200 and resp.get_json()["data"]["revoked_at"]
    assert client.get("/api/v1/user/keys", headers=me["auth"]).status_code == 401

    # The last active key: only with confirm=true.
    last = client.delete(f"/api/v1/user/keys/{new['key_prefix']}", headers=new_auth)
    assert last.status_code == 409 and last.get_json()["error"]["code"] == "last_active_key"
    assert client.get("/api/v1/user/credits", headers=new_auth).status_code == 200
    bad = client.delete(f"/api/v1/user/keys/{new['key_prefix']}?confirm=maybe", headers=new_auth)
    assert bad.status_code == 400
    gone = client.delete(f"/api/v1/user/keys/{new['key_prefix']}?confirm=true", headers=new_auth)
    assert gone.status_code == 200
    assert client.get("/api/v1/user/credits", headers=new_auth).status_code == 401
    assert client.post("/api/token", json={"key": new["api_key"]}).status_code == 401

    actions = [(e["actor"], e["action"]) for e in rt.db.all(
        "audit_list", limit=10, before_id=None, target=f"key:{new['key_prefix']}", action=None)]
    assert actions == [(f"user:{me['user_id']}", "key.revoke"),
                       (f"user:{me['user_id']}", "key.issue")]


def test_another_users_key_is_not_found(rt, client, me):
    other = make_user(rt, credits=1)
    resp = client.delete(f"/api/v1/user/keys/{other['key_prefix']}?confirm=true",
                         headers=me["auth"])
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "key_not_found"
    assert client.post("/api/token", json={"key": other["api_key"]}).status_code == 200
    resp = client.delete("/api/v1/user/keys/bgr_doesnotexist", headers=me["auth"])
    assert resp.status_code == 404


def test_keys_are_bounded(rt, client, me, monkeypatch):
    monkeypatch.setattr("gateway.services.accounts.MAX_ACTIVE_KEYS", 2)
    assert client.post("/api/v1/user/keys", headers=me["auth"]).status_code == 201
    resp = client.post("/api/v1/user/keys", headers=me["auth"])
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "too_many_keys"
