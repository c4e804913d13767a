"""The route contracts (gateway/contract.py) and the documents built from them, without
services: every Flask route is declared once and documented once, error responses come from
the error classes a route names, and a view's typed answer is what goes on the wire."""

from __future__ import annotations

import re

import pytest
import schemathesis
from flask import Flask
from pydantic import BaseModel, ConfigDict, Field

from gateway import openapi, openapi_admin
from gateway.app import create_app
from gateway.contract import Answer, Routes, respond
from gateway.document import build
from gateway.response_models import omitted
from shared.config import Settings
from shared.errors import InsufficientCredits, Overloaded, UserNotFound

pytestmark = pytest.mark.unit


def _operations(document: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, item in document["paths"].items() for method in item}


def test_both_documents_are_valid_openapi_3_1_and_cover_every_route() -> None:
    app = create_app(Settings.from_env({"APP_ENV": "development"}))
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith("web."):
            continue  # the pages are HTML for people, not API operations
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    customer, admin = _operations(openapi.DOCUMENT), _operations(openapi_admin.DOCUMENT)
    assert not customer & admin and customer | admin == routes
    for document in (openapi.DOCUMENT, openapi_admin.DOCUMENT):
        assert document["openapi"] == "3.1.0"
        schemathesis.openapi.from_dict(document).validate()


def test_error_responses_come_from_the_classes_a_route_raises() -> None:
    credits = openapi.DOCUMENT["paths"]["/api/v1/user/credits"]["get"]["responses"]
    # The guard's refusals, the limiter's, 405; the view's own 503: nothing else.
    assert sorted(credits) == ["200", "401", "405", "429", "503"]
    codes = credits["401"]["content"]["application/json"]["schema"]["properties"]
    assert codes["error"]["properties"]["code"]["enum"] == [
        "unauthorized", "invalid_token", "token_expired"]
    assert credits["429"]["headers"]["Retry-After"]["required"] is True
    # remove.bg's routes answer its statuses: our 401s are its 403, our 422 image errors 400.
    removebg = openapi.DOCUMENT["paths"]["/v1.0/removebg"]["post"]["responses"]
    assert "401" not in removebg and "403" in removebg
    assert removebg["400"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/RemoveBgError")


class _Answer(BaseModel):
    """Counted."""

    model_config = ConfigDict(extra="forbid")

    count: int
    note: str | None = omitted("Only when there is one.")
    empty: str | None = None


class _Header(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    tag: str = Field(alias="X-Tag", description="A tag.")


def test_a_declared_route_serves_its_typed_answer_and_is_documented() -> None:
    routes = Routes("scratch", __name__, "/x", tag="demo")

    @routes.post("/<item>", answer=Answer(_Answer, status=201, headers=_Header),
                 errors=[InsufficientCredits, Overloaded, UserNotFound])
    def make(item: str) -> tuple[_Answer, _Header]:
        """Make one
        In more words."""
        return _Answer(count=len(item)), _Header(tag=item)

    app = Flask(__name__)
    app.register_blueprint(routes.bp)
    with app.test_request_context("/x/abc", method="POST"):
        response = respond(app.view_functions["scratch.make"](item="abc"))
    assert response.status_code == 201 and response.headers["X-Tag"] == "abc"
    assert response.get_json() == {"count": 3, "empty": None}  # `note` left out while None

    operation = build({"title": "t", "version": "1"}, routes.contracts, {})["paths"][
        "/x/{item}"]["post"]
    assert operation["operationId"] == "make" and operation["summary"] == "Make one"
    assert operation["description"] == "In more words."
    assert sorted(operation["responses"]) == ["201", "402", "404", "405", "413", "503"]
    assert operation["responses"]["201"]["headers"]["X-Tag"]["required"] is True
    assert operation["responses"]["503"]["headers"]["Retry-After"]["required"] is False
    not_found = operation["responses"]["404"]["content"]["application/json"]["schema"]
    assert not_found["properties"]["error"]["properties"]["code"]["enum"] == [
        "user_not_found", "not_found"]
