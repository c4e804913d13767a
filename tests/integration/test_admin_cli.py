"""The admin CLI: each command prints one JSON object and talks to the real stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from tools.stack.processes import REPO


def admin(stack_env, *args):
    proc = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "gateway.wsgi", "admin", *args],
        env={**os.environ, **stack_env}, cwd=REPO, capture_output=True, text=True, timeout=60)
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


def test_create_issue_grant_show_revoke(stack_env, settings, client):
    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    rc, created = admin(stack_env, "create-user", "--email", email, "--credits", "5")
    assert rc == 0
    assert set(created) >= {"user_id", "api_key", "key_prefix"}
    assert created["api_key"].startswith(created["key_prefix"] + ".")
    uid = str(created["user_id"])

    rc, second = admin(stack_env, "issue-key", "--user", uid)
    assert rc == 0 and second["key_prefix"] != created["key_prefix"]

    assert admin(stack_env, "grant", "--user", uid, "--credits", "7")[1]["credits"] == 12
    assert admin(stack_env, "grant", "--user", uid, "--credits", "-2")[1]["credits"] == 10
    rc, err = admin(stack_env, "grant", "--user", uid, "--credits", "-11")
    assert rc == 1 and err["error"]["code"] == "invalid_parameter"

    rc, shown = admin(stack_env, "show-user", "--user", uid)
    assert rc == 0 and shown["credits"] == 10 == shown["ledger_balance"]
    assert {k["prefix"] for k in shown["keys"]} == {created["key_prefix"], second["key_prefix"]}
    # The secret is never shown again.
    assert created["api_key"] not in json.dumps(shown)

    rc, revoked = admin(stack_env, "revoke-key", "--prefix", created["key_prefix"])
    assert rc == 0 and revoked["revoked_at"]
    assert client.post("/api/token", json={"key": created["api_key"]}).status_code == 401
    assert client.post("/api/token", json={"key": second["api_key"]}).status_code == 200

    rc, err = admin(stack_env, "create-user", "--email", email)
    assert rc == 1 and err["error"]["param"] == "email"


def test_admin_tokens_users_and_usage_from_the_cli(stack_env, settings, client):
    rc, made = admin(stack_env, "create-admin-token", "--name", "billing", "--scope", "read")
    assert rc == 0 and made["token"].startswith(made["prefix"] + ".")
    assert made["scope"] == "read" and made["prefix"].startswith("bga_")
    rc, listed = admin(stack_env, "list-admin-tokens", "--prefix", made["prefix"])
    assert [t["prefix"] for t in listed["data"]] == [made["prefix"]]
    assert made["token"] not in json.dumps(listed)
    auth = {"Authorization": f"Bearer {made['token']}"}
    assert client.get("/admin/v1/users", headers=auth).status_code == 200
    rc, revoked = admin(stack_env, "revoke-admin-token", "--prefix", made["prefix"])
    assert rc == 0 and revoked["revoked_at"]
    assert client.get("/admin/v1/users", headers=auth).status_code == 401
    proc = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "gateway.wsgi", "admin", "create-admin-token",
         "--name", "x", "--scope", "admin"], env={**os.environ, **stack_env}, cwd=REPO,
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "read" in proc.stderr  # click names the choices

    email = f"cli-{uuid.uuid4().hex[:8]}@example.com"
    rc, created = admin(stack_env, "create-user", "--email", email, "--credits", "2")
    uid = str(created["user_id"])
    rc, found = admin(stack_env, "list-users", "--email", email)
    assert [u["id"] for u in found["data"]] == [created["user_id"]]
    rc, disabled = admin(stack_env, "disable-user", "--user", uid)
    assert rc == 0 and disabled["disabled_at"]
    assert client.post("/api/token", json={"key": created["api_key"]}).status_code == 401
    rc, enabled = admin(stack_env, "disable-user", "--user", uid, "--enable")
    assert enabled["disabled_at"] is None
    rc, usage = admin(stack_env, "usage", "--user", uid)
    assert rc == 0 and usage["data"] == [] and "totals" in usage
    rc, trail = admin(stack_env, "audit", "--target", f"user:{uid}")
    assert [e["action"] for e in trail["data"]] == ["user.enable", "user.disable",
                                                    "credits.grant", "user.create"]
    assert all(e["actor"].startswith("cli:") for e in trail["data"])


def test_unknown_user_or_key_is_still_an_invalid_parameter(stack_env, settings):
    for args, param in ((("grant", "--user", "999999999", "--credits", "1"), "user"),
                        (("show-user", "--user", "999999999"), "user"),
                        (("revoke-key", "--prefix", "bgr_nosuchkey"), "prefix")):
        rc, err = admin(stack_env, *args)
        assert rc == 1 and err["error"]["code"] == "invalid_parameter", err
        assert err["error"]["param"] == param


def test_set_limits_and_show_them(stack_env, settings, rt):
    rc, created = admin(stack_env, "create-user", "--email",
                        f"cli-{uuid.uuid4().hex[:8]}@example.com")
    uid = str(created["user_id"])
    rc, out = admin(stack_env, "set-limits", "--user", uid, "--rate-limit", "50",
                    "--max-concurrent", "3")
    assert rc == 0 and out["limits"]["rate_limit_per_minute"] == {
        "effective": 50, "override": 50, "default": settings.rate_limit_per_minute}
    assert out["limits"]["max_concurrent"]["override"] == 3
    # `default` resets one; the option not given stays as it is.
    rc, out = admin(stack_env, "set-limits", "--user", uid, "--rate-limit", "default")
    assert rc == 0
    rc, shown = admin(stack_env, "show-user", "--user", uid)
    assert shown["limits"]["rate_limit_per_minute"]["override"] is None
    assert shown["limits"]["rate_limit_per_minute"]["effective"] == settings.rate_limit_per_minute
    assert shown["limits"]["max_concurrent"] == {
        "effective": 3, "override": 3, "default": settings.max_concurrent_per_user}
    assert shown["in_flight"] == 0
    rc, err = admin(stack_env, "set-limits", "--user", uid, "--max-concurrent", "-1")
    assert rc == 1 and err["error"]["param"] == "max_concurrent"
    rc, err = admin(stack_env, "set-limits", "--user", uid)
    assert rc == 1 and err["error"]["code"] == "invalid_parameter"
    assert rt.db.one("get_user", user_id=int(uid))["max_concurrent"] == 3
    rc, trail = admin(stack_env, "audit", "--target", f"user:{uid}")
    assert [(e["action"], e["after"]) for e in trail["data"][:2]] == [
        ("user.limits", {"rate_limit_per_minute": None, "max_concurrent": 3}),
        ("user.limits", {"rate_limit_per_minute": 50, "max_concurrent": 3})]
    assert trail["data"][0]["actor"].startswith("cli:")
