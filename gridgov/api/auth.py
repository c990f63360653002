"""POST /api/v1/auth/token: username + password → bearer token; DELETE revokes it."""
from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint

from gridgov.api import bearer_token
from gridgov.api.responses import errors
from gridgov.auth import authenticate
from gridgov.errors import AppError
from gridgov.extensions import limiter
from gridgov.services import tokens

blp = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth", description="Bearer tokens for mobile clients")


class TokenRequest(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=64))
    password = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=256), load_only=True)
    label = ma.fields.String(load_default="", validate=ma.validate.Length(max=100))


class TokenResponse(ma.Schema):
    token = ma.fields.String(required=True)
    token_type = ma.fields.String(required=True)
    expires_at = ma.fields.DateTime(required=True)
    user = ma.fields.Dict(required=True)


@blp.route("/token", methods=["POST"])
@blp.arguments(TokenRequest)
@blp.response(201, TokenResponse)
@errors(blp, 400, 401, 423, 429, public=True)
@blp.doc(security=[])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"])
def create_token(body):
    user = authenticate(body["username"].strip(), body["password"])
    if user is None:
        raise AppError("用户名或密码错误，或账号已停用", "Wrong username or password, or the account is disabled",
                       status=401, code="bad_credentials")
    token, row = tokens.issue_token(user, current_app.config["API_TOKEN_TTL_HOURS"], body.get("label", ""))
    return {
        "token": token, "token_type": "Bearer", "expires_at": row.expires_at,
        "user": {"id": user.id, "username": user.username, "role": user.role, "area": user.area_code,
                 "department": user.department_code},
    }


@blp.route("/token", methods=["DELETE"])
@blp.response(204)
@errors(blp)
def revoke_token():
    token = bearer_token()
    if not token or tokens.user_for_token(token) is None or not tokens.revoke_token(token):
        raise AppError("令牌无效或已撤销", "The token is invalid or already revoked", status=401, code="bad_token")
    return None
