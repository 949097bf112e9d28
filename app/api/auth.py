"""POST /auth (privacyIDEA) and POST /auth/token (OAuth2 password flow for Swagger UI)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request

from app.api.deps import Rt, client_ip
from app.api.envelope import auth_answer, error_doc
from app.schemas.auth import AuthIn, AuthValue, OAuth2FormIn, OAuth2Token
from app.schemas.envelope import AuthEnvelope, NoDetail
from app.schemas.policy import ADMIN_ACTIONS
from app.security.passwords import BUSY_EXAMPLE
from app.services import admins

router = APIRouter(prefix="/auth", tags=["auth"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_doc(400, 905, "Missing or invalid parameter", "ERR905: Missing parameter: password"),
    401: error_doc(401, 4031, "Wrong credentials", "Authentication failed."),
    429: error_doc(
        429,
        4031,
        "Locked out after repeated failures",
        "Too many failed logins for 'admin'; try again in 299 s",
    ),
    503: error_doc(
        503, 503, "Too many logins waiting to be checked (see Retry-After)", BUSY_EXAMPLE
    ),
}


class AuthAnswer(AuthEnvelope[AuthValue, NoDetail]):
    """A signed JWT for the Authorization header."""


@router.post(
    "",
    operation_id="login",
    summary="Log in as an admin and get a JWT",
    response_model=AuthAnswer,
    responses=_ERRORS,
)
async def login(body: AuthIn, rt: Rt, request: Request) -> AuthEnvelope[AuthValue, NoDetail]:
    token = await admins.login(rt, body.username, body.password, client_ip(request))
    value = AuthValue(token=token, role="admin", username=body.username, rights=list(ADMIN_ACTIONS))
    return auth_answer(value, "ACCEPT", NoDetail())


@router.post(
    "/token",
    operation_id="oauth2_token",
    summary="OAuth2 password flow (Swagger UI's Authorize button)",
    response_model=OAuth2Token,
    responses=_ERRORS,
)
async def token(form: Annotated[OAuth2FormIn, Form()], rt: Rt, request: Request) -> OAuth2Token:
    access = await admins.login(rt, form.username, form.password, client_ip(request))
    return OAuth2Token(access_token=access, expires_in=rt.settings.jwt_lifetime_seconds)
