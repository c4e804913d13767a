"""Request bodies: size limit (413), unknown fields (400), Content-Type (415), malformed JSON.

Every refusal is in the envelope, happens before a credit is reserved, and records no job.
"""

from __future__ import annotations

import json

import pytest
import requests

from tests.security.util import (
    ENDPOINT,
    assert_balance,
    assert_error,
    assert_no_job,
    auth,
    post_remove,
)
from tests.stack import get_token, make_user

pytestmark = pytest.mark.timeout(60)

CREDITS = 2
URL = "https://images.example/a.jpg"  # never fetched: each request is refused before a job


@pytest.fixture()
def user(client, rt) -> dict:
    u = make_user(rt, credits=CREDITS)
    u["token"] = get_token(client, u["api_key"])
    return u


def _nothing_happened(rt, user: dict) -> None:
    assert_no_job(rt, user)
    assert_balance(rt, user, CREDITS)


def _big_body(settings) -> bytes:
    return json.dumps({"input_image": URL + "?" + "a" * settings.max_request_bytes}).encode()


def test_body_over_the_limit_is_413(client, rt, settings, user):
    resp = client.post(ENDPOINT, data=_big_body(settings), content_type="application/json",
                       headers=auth(user["token"]))
    assert_error(resp, 413, "payload_too_large")
    _nothing_happened(rt, user)


def test_token_body_over_the_limit_is_413(client, settings):
    body = json.dumps({"key": "k" * (2 * settings.max_request_bytes)})
    assert_error(client.post("/api/token", data=body, content_type="application/json"),
                 413, "payload_too_large")


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_limit_through_gunicorn(gateway_url, rt, settings, chunked):
    u = make_user(rt, credits=CREDITS)
    token = requests.post(f"{gateway_url}/api/token", json={"key": u["api_key"]},
                          timeout=10).json()["access_token"]
    body = _big_body(settings)
    # A generator makes requests send Transfer-Encoding: chunked, with no Content-Length.
    data = (body[i:i + 4096] for i in range(0, len(body), 4096)) if chunked else body
    resp = requests.post(f"{gateway_url}{ENDPOINT}", data=data, timeout=20,
                         headers={**auth(token), "Content-Type": "application/json"})
    assert_error(resp, 413, "payload_too_large")
    _nothing_happened(rt, u)


@pytest.mark.parametrize(("body", "param"), [
    ({"input_image": URL, "callback_url": "http://127.0.0.1/"}, "callback_url"),
    ({"input_image": URL, "__proto__": {"admin": True}}, "__proto__"),
    ({"input_image": URL, "user_id": 1}, "user_id"),
    ({"input_image": URL, "credits": -100}, "credits"),
    ({"Input_Image": URL}, "Input_Image"),
    ({"input_image": URL, "z": 1, "a": 2}, "a"),
    ({"input_image": [URL]}, "input_image"),
    ({"input_image": {"url": URL}}, "input_image"),
    ({"input_image": 42}, "input_image"),
    ({"input_image": URL, "output_format": 1}, "output_format"),
    ({"input_image": URL, "bg_color": ["#fff"]}, "bg_color"),
    ({"input_image": URL, "bg_gradient": {"a": 1}}, "bg_gradient"),
    ({"input_image": "http://x.example/" + "a" * 3000}, "input_image"),
])
def test_unknown_or_mistyped_fields_are_400_naming_the_field(client, rt, user, body, param):
    resp = post_remove(client, user["token"], **body)
    out = assert_error(resp, 400, "invalid_parameter")
    assert out["error"]["param"] == param and param in out["message"]
    _nothing_happened(rt, user)


@pytest.mark.parametrize("content_type", [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",  # multipart is taken (uploads), urlencoded is not
    "application/xml",
    "application/jsonp",
    "image/jpeg",
])
def test_wrong_content_type_is_415(client, rt, user, content_type):
    headers = auth(user["token"])
    if content_type:
        headers["Content-Type"] = content_type
    resp = client.post(ENDPOINT, data=json.dumps({"input_image": URL}), headers=headers)
    assert_error(resp, 415, "unsupported_media_type")
    _nothing_happened(rt, user)


MALFORMED = {
    "array": b'[{"input_image": "https://images.example/a.jpg"}]',
    "null": b"null",
    "string": b'"https://images.example/a.jpg"',
    "number": b"42",
    "empty": b"",
    "invalid": b'{"input_image": ',
    "single quotes": b"{'input_image': 'https://images.example/a.jpg'}",
    "trailing garbage": b'{"input_image": "https://images.example/a.jpg"} x',
    "invalid utf-8": b'{"input_image": "\xff\xfe"}',
    "nested arrays": b"[" * 10_000,
    "nested objects": b'{"a":' * 3_000,
    "nested inside a field": b'{"input_image": "https://images.example/a.jpg", "x": '
                             + b"[" * 10_000,
    "huge integer": b'{"input_image": ' + b"9" * 10_000 + b"}",
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_json_is_a_clean_400(client, rt, user, name):
    resp = client.post(ENDPOINT, data=MALFORMED[name], content_type="application/json",
                       headers=auth(user["token"]))
    out = assert_error(resp, 400, "invalid_parameter")
    assert out["error"]["param"] == "body"
    _nothing_happened(rt, user)


@pytest.mark.parametrize("name", ["nested arrays", "invalid utf-8", "array"])
def test_malformed_json_on_the_token_endpoint_is_400(client, name):
    resp = client.post("/api/token", data=MALFORMED[name], content_type="application/json")
    assert_error(resp, 400, "bad_request")


def test_small_chunked_body_through_gunicorn_is_read_whole(gateway_url, rt):
    # The control for the chunked case: a small streamed body is parsed, not dropped or cut.
    u = make_user(rt, credits=CREDITS)
    token = requests.post(f"{gateway_url}/api/token", json={"key": u["api_key"]},
                          timeout=10).json()["access_token"]
    body = json.dumps({"input_image": URL, "bg_color": "not-a-colour"}).encode()
    resp = requests.post(f"{gateway_url}{ENDPOINT}", data=(body[i:i + 7] for i in
                                                           range(0, len(body), 7)),
                         headers={**auth(token), "Content-Type": "application/json"},
                         timeout=20)
    out = assert_error(resp, 400, "invalid_parameter")
    assert out["error"]["param"] == "bg_color"
    _nothing_happened(rt, u)
