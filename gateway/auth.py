"""API key -> JWT, refresh, and flask-jwt-extended callbacks that speak the error envelope."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_jwt_extended import JWTManager, create_access_token, get_jwt
from pydantic import ValidationError

from gateway.context import error_response, runtime
from gateway.contract import Answer, Body, Routes
from gateway.guards import BEARER, accounts, remember_limits
from gateway.response_models import Token
from gateway.schemas import TokenRequest
from shared.errors import (
    BadRequest,
    DependencyDown,
    InvalidApiKey,
    InvalidToken,
    TokenExpired,
    Unauthorized,
)

routes = Routes("auth", __name__, "/api", tag="auth")
bp = routes.bp


def _token(user_id: int, key_id: int) -> Token:
    settings = runtime().settings
    token = create_access_token(identity=str(user_id), additional_claims={"kid": key_id})
    return Token(access_token=token, token_type="bearer",  # noqa: S106 - the scheme, no secret
                 expires_in=settings.jwt_expires_seconds)


# The body is read here, not by the contract: anything that is not {"key": "<string>"} is 400
# `bad_request` (never 415), whatever its Content-Type.
@routes.post("/token", body=Body(TokenRequest, parsed=False),
             answer=Answer(Token, description="An access token."),
             errors=[BadRequest, InvalidApiKey, DependencyDown], op="createToken")
def token() -> Token:
    """Exchange an API key for an access token"""
    raw = request.get_json(silent=True)
    try:
        key = TokenRequest.model_validate(raw).key
    except ValidationError:
        if isinstance(raw, dict) and isinstance(raw.get("key"), str) and raw["key"]:
            raise InvalidApiKey() from None  # a string pydantic refuses (a lone surrogate)
        raise BadRequest("Send a JSON body {\"key\": \"YOUR_API_KEY\"}.") from None
    user_id, key_id = accounts().verify_key(key)
    return _token(user_id, key_id)


@routes.post("/refresh", guard=BEARER, answer=Answer(Token, description="A new access token."),
             op="refreshToken")
def refresh() -> Token:
    """A new access token for a valid, unexpired one
    The request body, if any, is ignored."""
    claims = get_jwt()
    return _token(int(claims["sub"]), int(claims["kid"]))


def register_jwt_callbacks(jwt: JWTManager) -> None:
    """Every JWT failure answers 401 in the error envelope."""
    @jwt.unauthorized_loader
    def _missing(reason: str) -> Any:
        return error_response(Unauthorized("Missing or malformed Authorization header: "
                                           "send 'Authorization: Bearer <token>'."))

    @jwt.invalid_token_loader
    def _invalid(reason: str) -> Any:
        return error_response(InvalidToken())

    @jwt.expired_token_loader
    def _expired(header: dict, payload: dict) -> Any:
        return error_response(TokenExpired())

    @jwt.revoked_token_loader
    def _revoked(header: dict, payload: dict) -> Any:
        return error_response(InvalidToken("The API key of this token has been revoked."))

    @jwt.token_verification_failed_loader
    def _claims_failed(header: dict, payload: dict) -> Any:
        return error_response(InvalidToken())

    @jwt.token_in_blocklist_loader
    def _is_revoked(header: dict, payload: dict) -> bool:
        # Checked on every request, so revoking a key stops its tokens at once; the same
        # query reads the user's own limits, so a change to them applies at once too.
        try:
            user_id, key_id = int(payload["sub"]), int(payload["kid"])
        except (KeyError, TypeError, ValueError):
            return True
        row = accounts().active_key(user_id, key_id)
        if row is None:
            return True
        remember_limits(user_id, row)
        return False

    @jwt.token_verification_loader
    def _claims_ok(header: dict, payload: dict) -> bool:
        return payload.get("type") == "access" and "kid" in payload
