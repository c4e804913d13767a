"""JWT attacks on the v1 endpoints: each is 401 in the envelope, and nothing is charged or queued.

Complements tests/integration/test_auth.py (which covers the basics on GET /user/credits):
here every forged token is also sent to POST remove-background with a valid body whose input
URL is a connection recorder, so "not charged" and "nothing fetched" are both checked.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
import warnings

import jwt as pyjwt
import pytest

from gateway.app import create_app
from gateway.services.accounts import Accounts
from tests.security.util import (
    ENDPOINT,
    assert_balance,
    assert_error,
    assert_no_job,
    auth,
)
from tests.stack import get_token, make_user

pytestmark = pytest.mark.timeout(60)

CREDITS = 5


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _seg(obj: object) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def sign(header: dict, claims: dict, key: bytes, digest=hashlib.sha256) -> str:
    """A JWS built by hand (PyJWT refuses some of these keys and headers, on purpose)."""
    signing_input = f"{_seg(header)}.{_seg(claims)}"
    sig = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(sig)}"


@pytest.fixture()
def client(settings):
    """The app with a short wait: a token wrongly accepted fails fast (504), not after 60 s."""
    app = create_app(dataclasses.replace(settings, request_timeout_seconds=2))
    app.config.update(TESTING=True)
    yield app.test_client()
    app.extensions["bgr"].close()


@pytest.fixture()
def victim(client, rt) -> dict:
    """A user with credits, a key id and a genuine token to start the forgeries from."""
    user = make_user(rt, credits=CREDITS)
    user["kid"] = rt.db.one("get_api_key", prefix=user["key_prefix"])["id"]
    user["token"] = get_token(client, user["api_key"])
    return user


def claims_of(user: dict, **changes: object) -> dict:
    now = int(time.time())
    base = {"fresh": False, "iat": now, "jti": "j", "type": "access", "sub": str(user["user_id"]),
            "nbf": now, "exp": now + 600, "kid": user["kid"]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def _attempt(client, rt, user: dict, token: str, code: str | None, rec) -> None:
    """The token is refused on every v1 endpoint and on refresh; nothing charged or fetched."""
    url = f"http://127.0.0.1:{rec.port}/x.jpg"
    responses = [
        client.post(ENDPOINT, json={"input_image": url}, headers=auth(token)),
        client.get("/api/v1/user/credits", headers=auth(token)),
        client.post("/api/refresh", headers=auth(token)),
    ]
    for resp in responses:
        body = assert_error(resp, 401, code or resp.get_json()["error"]["code"])
        assert body["error"]["code"] in ("invalid_token", "token_expired", "unauthorized")
        assert "access_token" not in body
    assert_no_job(rt, user)
    assert_balance(rt, user, CREDITS)
    assert rec.accepted == []


@pytest.fixture()
def rec(recorder):
    return recorder("127.0.0.1")


def secret(rt) -> bytes:
    return rt.settings.jwt_secret_key.encode()


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "AAAA"])
def test_alg_none(client, rt, victim, rec, alg, signature):
    token = f"{_seg({'alg': alg, 'typ': 'JWT'})}.{_seg(claims_of(victim))}.{signature}"
    _attempt(client, rt, victim, token, "invalid_token", rec)


@pytest.mark.parametrize(("header_alg", "digest"), [
    ("HS512", hashlib.sha512),  # right secret, an algorithm we do not accept
    ("HS384", hashlib.sha384),
    ("RS256", hashlib.sha256),  # the classic confusion: an HMAC under an RSA label
    ("ES256", hashlib.sha256),
    ("PS256", hashlib.sha256),
])
def test_algorithm_confusion(client, rt, victim, rec, header_alg, digest):
    token = sign({"alg": header_alg, "typ": "JWT"}, claims_of(victim), secret(rt), digest)
    _attempt(client, rt, victim, token, "invalid_token", rec)


@pytest.mark.parametrize("key", [b"", b"\x00", b"another-secret-of-sufficient-length!!",
                                 b"dev-insecure-jwt-secret-change-m"])
def test_wrong_or_empty_secret(client, rt, victim, rec, key):
    token = sign({"alg": "HS256", "typ": "JWT"}, claims_of(victim), key)
    _attempt(client, rt, victim, token, "invalid_token", rec)


def test_expired_token(client, rt, victim, rec):
    now = int(time.time())
    token = sign({"alg": "HS256", "typ": "JWT"},
                 claims_of(victim, iat=now - 7200, nbf=now - 7200, exp=now - 3600), secret(rt))
    _attempt(client, rt, victim, token, "token_expired", rec)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_not_yet_valid(client, rt, victim, rec, claim):
    future = int(time.time()) + 3600
    token = sign({"alg": "HS256", "typ": "JWT"},
                 claims_of(victim, **{claim: future, "exp": future + 600}), secret(rt))
    _attempt(client, rt, victim, token, "invalid_token", rec)


@pytest.mark.parametrize("change", ["sub", "kid", "exp", "type"])
def test_tampered_claims_keep_the_old_signature(client, rt, victim, rec, change):
    head, payload, sig = victim["token"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims[change] = {"sub": "1", "kid": claims["kid"] + 1, "exp": claims["exp"] + 10**6,
                      "type": "refresh"}[change]
    _attempt(client, rt, victim, f"{head}.{_seg(claims)}.{sig}", "invalid_token", rec)


def test_validly_signed_but_key_of_another_user(client, rt, victim, rec):
    # Even with the secret (a forger who has it, or a bug that mints such a token), a token
    # pairing one user with another user's key id is refused: the key must belong to sub.
    other = make_user(rt, credits=CREDITS)
    token = sign({"alg": "HS256", "typ": "JWT"}, claims_of(victim, sub=str(other["user_id"])),
                 secret(rt))
    _attempt(client, rt, victim, token, "invalid_token", rec)
    assert_balance(rt, other, CREDITS)
    assert_no_job(rt, other)


# A missing "type" is read as "access" by flask-jwt-extended (a signed token without it is
# ours to mint, not an attacker's); a signed token of another type is refused.
@pytest.mark.parametrize("changes", [{"kid": None}, {"sub": None}, {"type": "refresh"},
                                     {"kid": "1 OR 1=1"}, {"sub": "abc"}],
                         ids=["no kid", "no sub", "refresh type", "kid injection", "bad sub"])
def test_validly_signed_without_our_claims(client, rt, victim, rec, changes):
    token = sign({"alg": "HS256", "typ": "JWT"}, claims_of(victim, **changes), secret(rt))
    _attempt(client, rt, victim, token, None, rec)


@pytest.mark.parametrize("header", [
    {"alg": "HS256", "jku": "http://127.0.0.1:{port}/jwks.json"},
    {"alg": "HS256", "x5u": "http://127.0.0.1:{port}/cert.pem"},
    {"alg": "HS256", "kid": "../../../../dev/null"},
    {"alg": "HS256", "jwk": {"kty": "oct", "k": "AA"}},
])
def test_key_pointers_in_the_header_are_ignored(client, rt, victim, rec, header):
    header = json.loads(json.dumps(header).replace("{port}", str(rec.port)))
    token = sign(header, claims_of(victim), b"\x00")  # signed with the key the header hints
    _attempt(client, rt, victim, token, "invalid_token", rec)


def test_token_of_a_revoked_key(client, rt, victim, rec):
    Accounts(rt.db).revoke_key(victim["key_prefix"])
    _attempt(client, rt, victim, victim["token"], "invalid_token", rec)


def test_refresh_of_an_expired_token(client, rt, victim):
    now = int(time.time())
    token = sign({"alg": "HS256", "typ": "JWT"},
                 claims_of(victim, iat=now - 4000, nbf=now - 4000, exp=now - 1), secret(rt))
    resp = client.post("/api/refresh", headers=auth(token))
    body = assert_error(resp, 401, "token_expired")
    assert "access_token" not in body
    assert_balance(rt, victim, CREDITS)


@pytest.mark.parametrize("payload", [
    "[" * 5000,
    '{"a":' * 5000,
    "not json at all",
    "",
])
def test_garbage_payloads_are_401_not_500(client, rt, victim, rec, payload):
    token = f"{_seg({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(payload.encode())}.AAAA"
    _attempt(client, rt, victim, token, None, rec)
    # The same, validly signed: the signature check passing must not open a crash either.
    signing_input = f"{_seg({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(payload.encode())}"
    sig = hmac.new(secret(rt), signing_input.encode(), hashlib.sha256).digest()
    _attempt(client, rt, victim, f"{signing_input}.{_b64(sig)}", None, rec)


def test_genuine_token_still_works(client, rt, victim):
    # The control: the same fixture's unforged token is accepted.
    resp = client.get("/api/v1/user/credits", headers=auth(victim["token"]))
    assert resp.status_code == 200
    assert resp.get_json()["credits"] == CREDITS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        claims = pyjwt.decode(victim["token"], secret(rt), algorithms=["HS256"])
    assert claims["kid"] == victim["kid"] and claims["type"] == "access"
