"""The admin API's OpenAPI document: valid 3.1, covers every /admin route, and a real gateway
with a write token conforms to it (schemathesis).

The fuzzer may disable users, correct credits and revoke keys, so its gateway runs on a
database and a Redis database of its own: nothing it does reaches the other tests' users.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import hypothesis
import psycopg
import pytest
import requests
import schemathesis

from gateway.openapi_admin import DOCUMENT, PATH
from shared.config import Settings
from shared.db import migrate
from shared.runtime import Runtime
from tests.integration.test_openapi import CHECKS, Api
from tests.stack import make_admin_token, make_job, make_user
from tools.stack.processes import free_port, start_gateway, wait_http_ok

schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
# Every dependency is up: any 5xx is a bug.
schema.config.checks.not_a_server_error.expected_statuses = ["2xx", "3xx", "4xx"]


@pytest.fixture(scope="module")
def api(stack_env, services, settings) -> Iterator[Api]:
    name = f"adminfuzz_{uuid.uuid4().hex[:8]}"
    server = settings.database_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**stack_env, "DATABASE_URL": f"{server}/{name}",
           "REDIS_URL": stack_env["REDIS_URL"].rsplit("/", 1)[0] + "/7"}
    private = Settings.from_env(env)
    migrate(private.database_url)
    rt = Runtime(private)
    user = make_user(rt, credits=5)  # something to find: a user, a key, jobs, ledger rows
    make_job(rt, user, "succeeded")
    make_job(rt, user, "failed")
    port = free_port()
    managed = start_gateway(env, port, services.log_dir)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http_ok(f"{url}/healthz", 60, managed.proc)
        yield Api(url, {"Authorization": f"Bearer {make_admin_token(rt, 'write')}"})
    finally:
        managed.stop()
        rt.redis.flushdb()
        rt.close()
        with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_document_is_valid_openapi_3_1():
    schema.validate()
    labels = [result.ok().label for result in schema.get_all_operations()]
    assert len(labels) == sum(len(item) for item in DOCUMENT["paths"].values()), labels


def test_every_admin_route_is_documented_and_nothing_else(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin/"):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(path, method) for path, item in DOCUMENT["paths"].items() for method in item}
    assert routes == documented


def test_document_is_served_without_auth(api):
    resp = requests.get(f"{api.url}{PATH}", timeout=10)
    assert resp.status_code == 200 and resp.json() == DOCUMENT


@schema.parametrize()
@hypothesis.settings(max_examples=15, deadline=None, database=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_gateway_conforms_to_the_admin_document(case, api):
    case.call_and_validate(base_url=api.url, headers=api.headers, checks=CHECKS, timeout=60)
