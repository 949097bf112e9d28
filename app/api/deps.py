"""Annotated dependencies: the runtime, the calling admin, and policy checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from app.errors import NoAuthHeader, NotAllowed
from app.runtime import Runtime
from app.security.caller import Caller
from app.services import policies

# How the OpenAPI document describes admin authentication (Swagger UI's Authorize button,
# generated clients). `current_admin` reads the headers itself, privacyIDEA's bare
# `Authorization: <jwt>` included.
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


def _token_from(request: Request) -> str | None:
    raw = request.headers.get("PI-Authorization") or request.headers.get("Authorization")
    if not raw:
        return None
    scheme, _, rest = raw.strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest else raw.strip()


def current_admin(request: Request) -> Caller:
    """The admin behind the request's token, or 401/403."""
    token = _token_from(request)
    if token is None:
        raise NoAuthHeader("Authentication failure. Missing Authorization header.")
    claims = request.app.state.runtime.issuer.verify(token)
    if claims["role"] != "admin":
        # privacyIDEA says 401/4306 here; a valid token with the wrong role is a 403.
        raise NotAllowed("This endpoint is for admins only.")
    return Caller(name=claims["username"], ip=client_ip(request), role=claims["role"])


def allow(action: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that lets the request through only if policies grant `action`.

    One flat dependency on the hot path; the security schemes it implies are added to
    the OpenAPI document by app/openapi.py (see SECURITY).
    """

    async def check(request: Request) -> Caller:
        caller = current_admin(request)
        await policies.require(request.app.state.runtime, caller, action)
        return caller

    check.__name__ = f"allow_{action}"
    return check
