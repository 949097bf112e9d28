"""Domain errors: each carries the HTTP status and the privacyIDEA error code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class SmsgwError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[int] = -500
    headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ParameterError(SmsgwError):
    status, code = 400, 905


class NotFound(SmsgwError):
    status, code = 404, 601


class Conflict(SmsgwError):
    """The request is well formed but collides with what exists (a taken serial)."""

    status, code = 409, 905


class NotAllowed(SmsgwError):
    status, code = 403, 303


class BadCredentials(SmsgwError):
    status, code = 401, 4031


class LockedOut(SmsgwError):
    status, code = 429, 4031


class Busy(SmsgwError):
    """Too many requests waiting for the same scarce resource: come back shortly."""

    status, code = 503, 503
    headers = {"Retry-After": "1"}


class NoAuthHeader(SmsgwError):
    status, code = 401, 4033


class BadToken(SmsgwError):
    status, code = 401, 4304


class GatewayFailed(SmsgwError):
    """The provider could not deliver; the message names the gateway."""

    status, code = 502, 801
