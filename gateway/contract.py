"""A route declared once: `@routes.get(rule, answer=Model, errors=[...], body=..., query=...)`.

The declaration is the route's whole contract. From it come the view's checks (its guard, the
rate limit, the query and JSON body validated into their models), its answer (the typed model
the view returns, serialised here), and its OpenAPI operation (gateway/document.py builds both
documents from the contracts; nothing about a route is written a second time). Errors are the
classes of shared/errors.py the route raises: their statuses and codes are the document's
error responses, in the format of the route's API (`wire`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel

from gateway.forms import validate
from gateway.guards import PUBLIC, Guard
from gateway.ratelimit import rate_limited as limit
from shared.errors import (
    ApiError,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UnsupportedMediaType,
)

JSON = "application/json"
MULTIPART = "multipart/form-data"
FORM = "application/x-www-form-urlencoded"
View = Callable[..., Any]


@dataclass(frozen=True)
class Body:
    """A request body: its model, the media types it comes as, the fields a multipart body may
    send as file parts (name -> description). `parsed`: the JSON object is validated here and
    passed to the view as `body`; otherwise the view reads the body itself with this model
    (uploads, forms: gateway/forms.py)."""

    model: type[BaseModel]
    media: tuple[str, ...] = (JSON,)
    files: Mapping[str, str] = field(default_factory=dict)
    parsed: bool = True


@dataclass(frozen=True)
class Answer:
    """A success response: a JSON model and/or other media (images, CSV, text), its status and
    its headers (a model whose fields are the headers, by alias)."""

    model: type[BaseModel] | None = None
    media: tuple[str, ...] = ()
    status: int = 200
    description: str = ""
    headers: type[BaseModel] | None = None


@dataclass(frozen=True)
class Contract:
    """Everything the gateway and its document know about one operation."""

    method: str
    path: str  # OpenAPI form: /api/v1/jobs/{job_id}
    op: str
    summary: str
    description: str | None
    tag: str
    wire: str  # "ours" (the seed's envelope) or "removebg" (its statuses and error format)
    guard: Guard
    rate_limited: bool
    answers: tuple[Answer, ...]
    errors: tuple[type[ApiError], ...]
    body: Body | None = None
    query: type[BaseModel] | None = None
    headers: type[BaseModel] | None = None
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def refusals(self) -> tuple[type[ApiError], ...]:
        """Every error it can answer: the guard's, its own, the limiter's, 405 for another
        method on its path, 413 for a POST or PATCH (a body over the limit is refused unread)
        and, with a path parameter, Flask's 404 (a value with a '/' matches no route)."""
        implied: list[type[ApiError]] = [MethodNotAllowed]
        if "{" in self.path:
            implied.insert(0, NotFound)
        if self.method in ("post", "patch"):
            implied.append(PayloadTooLarge)
        if self.rate_limited:
            implied.append(RateLimited)
        found = [*self.guard.errors, *self.errors, *implied]
        return tuple(dict.fromkeys(found))


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Routes:
    """A blueprint whose routes declare their contract; `contracts` lists them in order."""

    def __init__(self, name: str, import_name: str, url_prefix: str = "", *, tag: str,
                 guard: Guard = PUBLIC, rate_limited: bool = False, wire: str = "ours") -> None:
        self.bp = Blueprint(name, import_name, url_prefix=url_prefix or None)
        self.prefix, self.tag, self.guard, self.wire = url_prefix, tag, guard, wire
        self.rate_limited = rate_limited
        self.contracts: list[Contract] = []

    def get(self, rule: str, **contract: Any) -> Callable[[View], View]:
        """Declare a GET route (see route)."""
        return self.route("get", rule, **contract)

    def post(self, rule: str, **contract: Any) -> Callable[[View], View]:
        """Declare a POST route (see route)."""
        return self.route("post", rule, **contract)

    def patch(self, rule: str, **contract: Any) -> Callable[[View], View]:
        """Declare a PATCH route (see route)."""
        return self.route("patch", rule, **contract)

    def delete(self, rule: str, **contract: Any) -> Callable[[View], View]:
        """Declare a DELETE route (see route)."""
        return self.route("delete", rule, **contract)

    def route(self, method: str, rule: str, *, answer: type[BaseModel] | Answer | Sequence[Answer],
              errors: Sequence[type[ApiError]] = (), body: Body | None = None,
              query: type[BaseModel] | None = None, headers: type[BaseModel] | None = None,
              params: Mapping[str, str] | None = None, guard: Guard | None = None,
              rate_limited: bool | None = None, tag: str | None = None,
              op: str | None = None) -> Callable[[View], View]:
        """Register the view under `rule` with its contract. The view's docstring is the
        operation's summary (first line) and description (the rest); `params` describes the
        path's parameters; the group's guard, rate limit and tag apply unless given here."""
        if isinstance(answer, type):
            answer = Answer(answer)
        answers = (answer,) if isinstance(answer, Answer) else tuple(answer)

        def decorate(view: View) -> View:
            summary, _, description = (view.__doc__ or "").strip().partition("\n")
            contract = Contract(
                method=method, path=re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}",
                                           self.prefix + rule),
                op=op or _camel(view.__name__), summary=summary.strip(),
                description=" ".join(description.split()) or None, tag=tag or self.tag,
                wire=self.wire, guard=guard or self.guard,
                rate_limited=self.rate_limited if rate_limited is None else rate_limited,
                answers=answers, errors=tuple(errors), body=body, query=query,
                headers=headers, params=params or {})
            self.contracts.append(contract)
            wrapped = _enforce(view, contract)
            self.bp.add_url_rule(rule, view.__name__, wrapped, methods=[method.upper()])
            return wrapped

        return decorate


def _enforce(view: View, contract: Contract) -> View:
    """The view behind its guard and rate limit, given its validated query and body, its
    answer serialised."""

    @functools.wraps(view)
    def run(**kwargs: Any) -> Any:
        if contract.query is not None:
            kwargs["query"] = validate(contract.query, request.args.to_dict())
        if contract.body is not None and contract.body.parsed:
            kwargs["body"] = validate(contract.body.model, json_object())
        return respond(view(**kwargs), contract.answers[0].status)

    checked = limit(run) if contract.rate_limited else run  # after the guard: per user
    return contract.guard.check(checked) if contract.guard.check else checked


def json_object() -> dict[str, Any]:
    """The request's JSON object body (415 for another media type, 400 for another value)."""
    if not request.is_json:
        raise UnsupportedMediaType()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidParameter("body", "The request body must be a JSON object.")
    return body


def respond(answer: Any, status: int = 200) -> Response:
    """A view's answer as a response: a model (JSON) or a Response (images, streams,
    pre-serialised bodies), alone or followed by a status and/or a headers model."""
    extra: list[Any] = []
    if isinstance(answer, tuple):
        answer, *extra = answer
    response = answer if isinstance(answer, Response) else jsonify(
        answer.model_dump(mode="json", by_alias=True))
    if not isinstance(answer, Response):
        response.status_code = status
    for item in extra:
        if isinstance(item, int):
            response.status_code = item
        else:
            for name, value in item.model_dump(mode="json", by_alias=True,
                                               exclude_none=True).items():
                response.headers[name] = str(value)
    return response
