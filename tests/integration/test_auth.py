"""API key -> JWT, refresh, credits: the seed's endpoints and every way auth can fail."""

from __future__ import annotations

import base64
import json
import time
from datetime import timedelta

import jwt as pyjwt
import pytest
from flask_jwt_extended import create_access_token

from gateway.services.accounts import Accounts
from tests.stack import get_token, make_user


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def assert_401(resp, code: str | None = None):
    body = resp.get_json()
    assert resp.status_code == 401, body
    assert body["success"] is False and body["message"]
    if code:
        assert body["error"]["code"] == code
    assert "Traceback" not in resp.get_data(as_text=True)


def test_token_refresh_and_credits_as_the_seed(client, rt):
    u = make_user(rt, credits=84)
    resp = client.post("/api/token", json={"key": u["api_key"]})
    assert resp.status_code == 200
    token = resp.get_json()["access_token"]
    claims = pyjwt.decode(token, rt.settings.jwt_secret_key, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 3600

    resp = client.post("/api/refresh", headers=auth(token))
    body = resp.get_json()
    assert resp.status_code == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert pyjwt.decode(body["access_token"], rt.settings.jwt_secret_key,
                        algorithms=["HS256"])["sub"] == str(u["user_id"])

    resp = client.get("/api/v1/user/credits", headers=auth(body["access_token"]))
    assert resp.get_json() == {"success": True, "credits": 84, "user_id": u["user_id"]}


def test_unknown_and_malformed_keys(client, rt):
    u = make_user(rt)
    prefix, secret = u["api_key"].split(".")
    for key in ("nope", f"{prefix}.wrong-secret", f"bgr_000000000000.{secret}", prefix):
        assert_401(client.post("/api/token", json={"key": key}), "invalid_api_key")
    resp = client.post("/api/token", json={})
    assert resp.status_code == 400


def test_revoked_key_stops_its_tokens_at_once(client, rt):
    u = make_user(rt)
    token = get_token(client, u["api_key"])
    assert client.get("/api/v1/user/credits", headers=auth(token)).status_code == 200
    Accounts(rt.db).revoke_key(u["key_prefix"])
    assert_401(client.get("/api/v1/user/credits", headers=auth(token)), "invalid_token")
    assert_401(client.post("/api/refresh", headers=auth(token)), "invalid_token")
    assert_401(client.post("/api/token", json={"key": u["api_key"]}), "invalid_api_key")


def _forge(app, **overrides):
    with app.app_context():
        return create_access_token(**overrides)


def test_expired_token_and_refresh_of_expired(app, client, rt):
    u = make_user(rt)
    with app.app_context():
        token = create_access_token(identity=str(u["user_id"]),
                                    additional_claims={"kid": _key_id(rt, u)},
                                    expires_delta=timedelta(seconds=-10))
    assert_401(client.get("/api/v1/user/credits", headers=auth(token)), "token_expired")
    assert_401(client.post("/api/refresh", headers=auth(token)), "token_expired")


def _key_id(rt, u) -> int:
    return rt.db.one("get_api_key", prefix=u["key_prefix"])["id"]


def _b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_forged_tokens_are_refused(client, rt):
    u = make_user(rt)
    now = int(time.time())
    claims = {"sub": str(u["user_id"]), "kid": _key_id(rt, u), "type": "access",
              "iat": now, "nbf": now, "exp": now + 600, "jti": "x", "fresh": False}
    other_secret = pyjwt.encode(claims, "another-secret-of-sufficient-length!!", "HS256")
    alg_none = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    good = get_token(client, u["api_key"])
    head, _, sig = good.split(".")
    tampered = f"{head}.{_b64({**claims, 'sub': '1'})}.{sig}"
    for token in (other_secret, alg_none, tampered, "not.a.token", "garbage"):
        assert_401(client.get("/api/v1/user/credits", headers=auth(token)))


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Token abc"},
])
def test_missing_or_malformed_authorization_header(client, headers):
    assert_401(client.get("/api/v1/user/credits", headers=headers))
    assert_401(client.post("/api/refresh", headers=headers))


def test_token_of_another_kind_of_claims_is_refused(app, client, rt):
    u = make_user(rt)
    token = _forge(app, identity=str(u["user_id"]))  # no key id: not one of ours
    assert_401(client.get("/api/v1/user/credits", headers=auth(token)))
