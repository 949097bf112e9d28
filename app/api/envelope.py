"""Building the envelope, and every exception handler that turns errors into one."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import SmsgwError
from app.schemas.envelope import (
    Authentication,
    AuthEnvelope,
    AuthResult,
    Envelope,
    ErrorEnvelope,
    ErrorInfo,
    ErrorResult,
    NoDetail,
    Result,
)

log = logging.getLogger("smsgw.api")
V = TypeVar("V")
D = TypeVar("D")

# Codes for HTTP errors raised by the framework itself (unknown route, wrong method).
_HTTP_CODES = {401: 4033, 403: 303, 404: 601, 405: 905, 413: 905, 415: 905}


# Parametrised once: pydantic keeps a parametrised model only while something refers to it,
# so `Envelope[Any, NoDetail]` written in the call built a new model class per answer.
_OK = Envelope[Any, NoDetail]
_OK_DETAIL = Envelope[Any, Any]
_AUTH = AuthEnvelope[Any, Any]


def ok(value: V) -> Envelope[V, NoDetail]:
    return _OK(result=Result(value=value), detail=NoDetail())


def ok_detail(value: V, detail: D) -> Envelope[V, D]:
    return _OK_DETAIL(result=Result(value=value), detail=detail)


def auth_answer(
    value: V, authentication: Literal["ACCEPT", "REJECT", "CHALLENGE"], detail: D
) -> AuthEnvelope[V, D]:
    return _AUTH(
        result=AuthResult(value=value, authentication=Authentication(authentication)),
        detail=detail,
    )


def error_response(
    status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = ErrorEnvelope(result=ErrorResult(error=ErrorInfo(code=code, message=message)))
    merged = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    merged.update(headers or {})
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=merged)


def error_doc(status: int, code: int, description: str, message: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry: the error envelope, with an example of its real code."""
    example = ErrorEnvelope(result=ErrorResult(error=ErrorInfo(code=code, message=message)))
    return {
        "model": ErrorEnvelope,
        "description": f"{description} (code {code})",
        "content": {"application/json": {"example": example.model_dump(mode="json")}},
    }


# The errors every admin endpoint may answer, for its OpenAPI `responses`.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: error_doc(status, code, description, example)
    for status, code, description, example in (
        (400, 905, "Missing or invalid parameter, naming the field",
         "ERR905: Missing parameter: name"),
        (401, 4033, "No token; a bad or expired one is code 4304",
         "Authentication failure. Missing Authorization header."),
        (403, 303, "Not allowed by the admin policies",
         "Admin actions are defined, but the action smsgateway_write is not allowed!"),
        (404, 601, "Not found", "SMS gateway with id 7 does not exist"),
        (413, 905, "Request body too large", "Request body larger than 1048576 bytes"),
        (415, 905, "Unsupported content type",
         "Unsupported content type 'text/plain': send application/json or a form"),
    )
}  # fmt: skip


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def describe_validation(errors: list[Any]) -> tuple[str, str]:
    """One message naming every bad field; missing ones in privacyIDEA's words."""
    missing = [_field(e["loc"]) for e in errors if e["type"] == "missing"]
    if missing and len(missing) == len(errors):
        return "missing", "ERR905: Missing parameter: " + ", ".join(missing)
    parts = []
    for err in errors:
        field = _field(err["loc"])
        if err["type"] == "json_invalid":
            parts.append(f"body is not valid JSON: {err.get('ctx', {}).get('error', '')}".strip())
        elif err["type"] == "extra_forbidden":
            parts.append(f"{field}: unknown parameter")
        elif err["type"] == "missing":
            parts.append(f"{field}: missing parameter")
        else:
            parts.append(f"{field}: {err['msg']}")
    return "invalid", "ERR905: Invalid parameter: " + "; ".join(parts)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document lists for the most specific template matching path."""
    matches: list[tuple[int, list[str]]] = []
    for template, operations in app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            matches.append((template.count("{"), [m.upper() for m in operations]))
    if not matches:
        return []
    fewest = min(count for count, _ in matches)
    return sorted({m for count, methods in matches if count == fewest for m in methods})


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(SmsgwError)
    async def _domain(_: Request, exc: SmsgwError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # DELETE /system/setConfig reaches DELETE /system/{key} and fails its validation,
        # but the document's path for it is /system/setConfig, which has no DELETE.
        # The raw scope path: request.url drops tabs and newlines (urlsplit does).
        allowed = allowed_methods(app, request.scope["path"])
        if allowed and request.method not in allowed:
            return error_response(405, 905, "Method Not Allowed", {"Allow": ", ".join(allowed)})
        message = describe_validation(list(exc.errors()))[1]
        return error_response(400, 905, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, exc.status_code)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # The router names only the first route it tried; the document knows them all.
            headers["Allow"] = ", ".join(allowed_methods(app, request.scope["path"]))
        return error_response(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, -500, "Internal error; it has been logged")
