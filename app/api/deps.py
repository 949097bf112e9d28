"""Annotated dependencies: the runtime, the calling admin or API key, and policy checks."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from app.errors import BadToken, NoAuthHeader, NotAllowed
from app.runtime import Runtime
from app.security.caller import Caller
from app.services import admins, apikeys, policies

# How the OpenAPI document describes admin authentication (Swagger UI's Authorize button,
# generated clients). `current_admin` reads the headers itself, privacyIDEA's bare
# `Authorization: <jwt>` included. An API key goes wherever a JWT does, or as HTTP Basic for
# existing clients (privacyIDEA's HTTP provider); Basic is not listed because
# PI-Authorization wins over Authorization, so beside it a listed Basic scheme would look
# ignored to a client that tries each listed scheme.
SECURITY_SCHEMES = {
    "OAuth2PasswordBearer": {
        "type": "oauth2",
        "flows": {"password": {"tokenUrl": "/auth/token", "scopes": {}}},
    },
    "PI-Authorization": {"type": "apiKey", "in": "header", "name": "PI-Authorization"},
}


# Dependencies are async: FastAPI runs plain functions in a thread pool, a costly hop.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


Rt = Annotated[Runtime, Depends(get_runtime)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _credential(request: Request) -> tuple[str, str] | None:
    """("bearer", token) or ("basic", "name:key") from the request's headers."""
    raw = request.headers.get("PI-Authorization") or request.headers.get("Authorization")
    if not raw:
        return None
    scheme, _, rest = raw.strip().partition(" ")
    if scheme.lower() == "bearer" and rest:
        return "bearer", rest.strip()
    if scheme.lower() == "basic" and rest:
        try:
            return "basic", base64.b64decode(rest.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise BadToken("Authentication failure. Malformed Basic credentials.") from None
    return "bearer", raw.strip()


async def current_admin(request: Request) -> Caller:
    """The admin or API key behind the request's credentials, or 401/403."""
    credential = _credential(request)
    if credential is None:
        raise NoAuthHeader("Authentication failure. Missing Authorization header.")
    rt: Runtime = request.app.state.runtime
    kind, value = credential
    if kind == "basic":
        name, _, key = value.partition(":")
        return await apikeys.authenticate(rt, key, client_ip(request), name=name)
    if apikeys.looks_like_key(value):
        return await apikeys.authenticate(rt, value, client_ip(request))
    claims = rt.issuer.verify(value)
    if claims["role"] != "admin":
        # privacyIDEA says 401/4306 here; a valid token with the wrong role is a 403.
        raise NotAllowed("This endpoint is for admins only.")
    name = str(claims["username"])
    # A password change or deletion since the token was issued revokes it.
    if await admins.token_generation(rt, name) != claims["gen"]:
        raise BadToken("Authentication failure. The token has been revoked.")
    return Caller(name=name, ip=client_ip(request), role="admin")


def allow(action: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that lets the request through only if policies grant `action`.

    One flat dependency on the hot path; the security schemes it implies are added to
    the OpenAPI document by app/openapi.py (see SECURITY).
    """

    async def check(request: Request) -> Caller:
        caller = await current_admin(request)
        await policies.require(request.app.state.runtime, caller, action)
        return caller

    check.__name__ = f"allow_{action}"
    return check


def allow_any(*actions: str) -> Callable[[Request], Awaitable[Caller]]:
    """Like `allow`, for a request that any one of `actions` permits."""

    async def check(request: Request) -> Caller:
        caller = await current_admin(request)
        await policies.require_any(request.app.state.runtime, caller, actions)
        return caller

    check.__name__ = "allow_" + "_or_".join(actions)
    return check
