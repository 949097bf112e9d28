"""Annotated dependencies: the runtime, the calling admin, and policy checks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer

from app.errors import NoAuthHeader, NotAllowed
from app.runtime import Runtime
from app.services import policies
from app.services.audit import Caller

# Declared for the OpenAPI document (Swagger UI's Authorize, generated clients); the token
# itself is read by `current_admin`, which also takes privacyIDEA's bare header.
oauth2 = OAuth2PasswordBearer(tokenUrl="auth/token", auto_error=False)
pi_header = APIKeyHeader(name="PI-Authorization", auto_error=False)


def get_runtime(request: Request) -> Runtime:
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


async def current_admin(
    request: Request,
    rt: Rt,
    _bearer: Annotated[str | None, Security(oauth2)] = None,
    _pi: Annotated[str | None, Security(pi_header)] = None,
) -> Caller:
    token = _token_from(request)
    if token is None:
        raise NoAuthHeader("Authentication failure. Missing Authorization header.")
    claims = rt.issuer.verify(token)
    if claims["role"] != "admin":
        # privacyIDEA says 401/4306 here; a valid token with the wrong role is a 403.
        raise NotAllowed("This endpoint is for admins only.")
    return Caller(name=claims["username"], ip=client_ip(request), role=claims["role"])


CurrentAdmin = Annotated[Caller, Depends(current_admin)]


def allow(action: str) -> Callable[..., Awaitable[Caller]]:
    """A dependency that lets the request through only if policies grant `action`."""

    async def check(caller: CurrentAdmin, rt: Rt) -> Caller:
        await policies.require(rt, caller, action)
        return caller

    check.__name__ = f"allow_{action}"
    return check
