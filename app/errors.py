"""Domain errors: each carries the HTTP status and the privacyIDEA error code."""

from __future__ import annotations

from typing import ClassVar


class SmsgwError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[int] = -500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ParameterError(SmsgwError):
    status, code = 400, 905


class NotFound(SmsgwError):
    status, code = 404, 601


class NotAllowed(SmsgwError):
    status, code = 403, 303


class BadCredentials(SmsgwError):
    status, code = 401, 4031


class LockedOut(SmsgwError):
    status, code = 429, 4031


class NoAuthHeader(SmsgwError):
    status, code = 401, 4033


class BadToken(SmsgwError):
    status, code = 401, 4304


class GatewayFailed(SmsgwError):
    """The provider could not deliver; the message names the gateway."""

    status, code = 502, 801
