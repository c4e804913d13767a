"""The OpenAPI document: valid 3.1, covers every route, and a real gateway conforms to it.

schemathesis generates requests (valid and invalid) for every operation of the document and
sends them to a real gunicorn gateway with a real token; no answer may be a server error or
something the document does not allow (status, content type, headers, body).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import hypothesis
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.openapi import DOCUMENT, PATH
from tests.stack import make_user
from tools.stack.processes import free_port, start_gateway, wait_http_ok

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_dict(DOCUMENT)
# Explicit examples, boundary values (coverage: also the methods a path does not serve) and
# random data, valid and invalid; seeded (derandomize below), so a run is repeatable.
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
# 502 is the input host's failure (unresolvable / refused URLs, documented); any other 5xx,
# 503 and 504 included, means something is wrong here: every dependency is up.
schema.config.checks.not_a_server_error.expected_statuses = ["2xx", "3xx", "4xx", "502"]


@dataclass
class Api:
    url: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def api(stack_env, services, worker, rt) -> Iterator[Api]:
    """Our own gateway: a rate limit schemathesis cannot reach, a short wait for the worker."""
    env = {**stack_env, "RATE_LIMIT_PER_MINUTE": "100000", "REQUEST_TIMEOUT_SECONDS": "30"}
    port = free_port()
    managed = start_gateway(env, port, services.log_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/readyz", 60, managed.proc)
        user = make_user(rt, credits=1000)
        resp = requests.post(f"{url}/api/token", json={"key": user["api_key"]}, timeout=10)
        assert resp.status_code == 200, resp.text
        # Both credentials on every call: each API reads its own header and ignores the other.
        yield Api(url, {"Authorization": f"Bearer {resp.json()['access_token']}",
                        "X-Api-Key": user["api_key"]})
    finally:
        managed.stop()


def test_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"].startswith("3.1.")
    schema.validate()  # the OpenAPI 3.1 meta-schema (raises on any violation)
    labels = [result.ok().label for result in schema.get_all_operations()]
    assert len(labels) == sum(len(item) for item in DOCUMENT["paths"].values()), labels


def test_every_route_is_documented_and_nothing_else(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        # The admin API has a document of its own (test_admin_openapi.py); the web pages
        # (gateway/web.py) are HTML for people, not API operations.
        if rule.endpoint == "static" or rule.rule.startswith("/admin/") or \
                rule.endpoint.startswith("web."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    assert routes == documented


def test_document_is_served_without_auth_and_loads(api):
    resp = requests.get(f"{api.url}{PATH}", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json() == DOCUMENT
    served = schemathesis.openapi.from_url(f"{api.url}{PATH}")
    served.validate()
    assert served.raw_schema == DOCUMENT


@schema.parametrize()
@hypothesis.settings(max_examples=20, deadline=None, database=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_gateway_conforms_to_the_document(case, api):
    case.call_and_validate(base_url=api.url, headers=api.headers, checks=CHECKS, timeout=60)


RB = "/api/v1/image/remove-background"
TOKEN = "/api/token"

# Inputs that answered 500 before (found while writing the document): each must now be the
# documented client error, in the document's shape.
TRICKY = [
    (RB, {"input_image": "http://[::1"}, 400),  # urlsplit: ValueError
    (RB, {"input_image": "http://[x]/a.png"}, 400),
    (RB, {"input_image": "http://a.invalid/\u0000.png"}, 400),  # PostgreSQL: no NUL in jsonb
    (RB, {"input_image": "http://a.invalid/\ud800.png"}, 400),  # a lone surrogate
    (RB, {"input_image": "http://a.invalid/x", "bg_color": "\u0000"}, 400),
    (TOKEN, {"key": "bgr_\u0000.secret"}, 401),  # PostgreSQL: no NUL in text
    (TOKEN, {"key": "bgr_abc.\ud800"}, 401),  # cannot be UTF-8 encoded for the hash
    (TOKEN, {"key": "bgr_abc.\u0000"}, 401),
]


@pytest.mark.parametrize(("path", "body", "status"), TRICKY)
def test_tricky_inputs_answer_as_documented(api, path, body, status):
    resp = requests.post(f"{api.url}{path}", data=json.dumps(body), headers={
        **api.headers, "Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == status, resp.text
    schema[path]["POST"].validate_response(resp)
