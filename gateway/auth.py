"""API key -> JWT, refresh, and flask-jwt-extended callbacks that speak the error envelope."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, request
from flask_jwt_extended import JWTManager, create_access_token, get_jwt, jwt_required
from pydantic import ValidationError

from gateway.context import error_response, runtime
from gateway.schemas import TokenRequest
from gateway.services.accounts import Accounts
from shared.errors import BadRequest, InvalidApiKey, InvalidToken, TokenExpired, Unauthorized

bp = Blueprint("auth", __name__, url_prefix="/api")


def accounts() -> Accounts:
    """Accounts over the current app's database."""
    return Accounts(runtime().db)


def _token_response(user_id: int, key_id: int) -> dict[str, Any]:
    settings = runtime().settings
    token = create_access_token(identity=str(user_id), additional_claims={"kid": key_id})
    return {"access_token": token, "token_type": "bearer",
            "expires_in": settings.jwt_expires_seconds}


@bp.post("/token")
def token() -> Any:
    """POST /api/token {"key": "..."} -> {"access_token": ...}."""
    raw = request.get_json(silent=True)
    try:
        key = TokenRequest.model_validate(raw).key
    except ValidationError:
        if isinstance(raw, dict) and isinstance(raw.get("key"), str) and raw["key"]:
            raise InvalidApiKey() from None  # a string pydantic refuses (a lone surrogate)
        raise BadRequest("Send a JSON body {\"key\": \"YOUR_API_KEY\"}.") from None
    user_id, key_id = accounts().verify_key(key)
    return jsonify(_token_response(user_id, key_id))


@bp.post("/refresh")
@jwt_required()
def refresh() -> Any:
    """POST /api/refresh with a valid (unexpired, unrevoked) token -> a new token."""
    claims = get_jwt()
    return jsonify(_token_response(int(claims["sub"]), int(claims["kid"])))


def current_user_id() -> int:
    """The user of this request: of its X-Api-Key (remove.bg API), else of its verified token."""
    if g.get("api_key_user") is not None:
        return int(g.api_key_user)
    return int(get_jwt()["sub"])


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
        # Checked on every request, so revoking a key stops its tokens at once.
        try:
            user_id, key_id = int(payload["sub"]), int(payload["kid"])
        except (KeyError, TypeError, ValueError):
            return True
        return not accounts().key_is_active(user_id, key_id)

    @jwt.token_verification_loader
    def _claims_ok(header: dict, payload: dict) -> bool:
        return payload.get("type") == "access" and "kid" in payload
