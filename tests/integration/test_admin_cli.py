"""The admin CLI: each command prints one JSON object and talks to the real stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

from deploy.localstack import REPO


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
