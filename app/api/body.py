"""Request bodies: JSON or form everywhere, one size limit.

privacyIDEA clients post forms, OpenAPI clients post JSON. Routes declare JSON models only
(so generated clients stay simple); this middleware turns a form body into the equivalent
JSON object before routing, and refuses bodies that are too large or of another type.

A form carries only text, so a field the document types as a number or a boolean (and not
as text) is read from its text here: `maxfail=5` and `active=1` mean 5 and true. JSON bodies
are passed on as they are and must match the document.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.envelope import error_response

_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


class BodyMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, form_only_paths: frozenset[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.form_only_paths = form_only_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if body.strip() and scope["path"] not in self.form_only_paths:
            if media_type in (_FORM, _MULTIPART):
                converted = await self._form_as_json(scope, bytes(body), media_type)
                if converted is None:
                    await error_response(400, 905, "ERR905: the form body cannot be parsed")(
                        scope, receive, send
                    )
                    return
                body = bytearray(converted)
                scope = _with_json_content_type(scope, len(body))
            elif media_type != "application/json" and not media_type.endswith("+json"):
                await error_response(
                    415,
                    905,
                    f"Unsupported content type {media_type or 'none'!r}: send "
                    "application/json or a form (application/x-www-form-urlencoded)",
                )(scope, receive, send)
                return

        await self.app(scope, _replay(bytes(body), receive), send)

    async def _form_as_json(self, scope: Scope, body: bytes, media_type: str) -> bytes | None:
        if media_type == _FORM:
            try:
                pairs = parse_qsl(
                    body.decode("utf-8"), keep_blank_values=True, strict_parsing=False
                )
            except UnicodeDecodeError:
                return None
            fields = dict(pairs)
        else:
            request = Request(scope, _replay(body, None))
            try:
                form = await request.form()
            except Exception:
                return None
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return json.dumps(_typed(fields, _body_schema(scope))).encode()

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(413, 905, f"Request body larger than {self.max_bytes} bytes")(
            scope, receive, send
        )


def _with_json_content_type(scope: Scope, length: int) -> Scope:
    raw = [
        (k, v) for k, v in scope["headers"] if k.lower() not in (b"content-type", b"content-length")
    ]
    raw += [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    return {**scope, "headers": raw}


def _replay(body: bytes, then: Receive | None) -> Receive:
    """Hand the buffered body to the app once, then pass through (disconnect events)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_INTEGER = re.compile(r"-?[0-9]+")


def _body_schema(scope: Scope) -> dict[str, Any]:
    """The JSON schema the document gives this request's body ({} when it has none)."""
    app = scope.get("app")
    openapi = getattr(app, "openapi", None)
    if openapi is None:
        return {}
    document: dict[str, Any] = openapi()
    method = str(scope["method"]).lower()
    for template, operations in document.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        if method in operations and re.fullmatch(pattern, scope["path"]):
            content = operations[method].get("requestBody", {}).get("content", {})
            schema = _resolve(document, content.get("application/json", {}).get("schema", {}))
            if "oneOf" in schema:  # one of several bodies: the properties of any of them
                properties: dict[str, Any] = {}
                for branch in schema["oneOf"]:
                    properties |= _resolve(document, branch).get("properties", {})
                schema = {**schema, "properties": properties}
            return schema
    return {}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    target: Any = document
    for part in ref.removeprefix("#/").split("/"):
        target = target.get(part, {})
    return _resolve(document, target) if isinstance(target, dict) else {}


def _types(schema: dict[str, Any]) -> set[str]:
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    found |= {"string" for v in schema.get("enum", []) if isinstance(v, str)}
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        found |= _types(branch)
    return found


def _typed(fields: dict[str, str], schema: dict[str, Any]) -> dict[str, Any]:
    """Form text as the number or boolean the document asks for; anything else untouched."""
    properties = schema.get("properties", {})
    typed: dict[str, Any] = {}
    for key, text in fields.items():
        types = _types(properties.get(key, {}))
        value: Any = text
        if "string" not in types:
            lowered = text.strip().lower()
            if "integer" in types and _INTEGER.fullmatch(text.strip()):
                value = int(text)
            elif "number" in types:
                try:
                    value = float(text)
                except ValueError:
                    value = text
            elif "boolean" in types and lowered in _TRUE | _FALSE:
                value = lowered in _TRUE
        typed[key] = value
    return typed
