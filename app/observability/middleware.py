"""One pass around every HTTP request: its id, then its route, status and latency in the
access log line and the request metrics."""

from __future__ import annotations

import logging
import time
from typing import cast

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability import context, metrics

log = logging.getLogger("smsgw.access")
UNMATCHED = "unmatched"  # one label for every unknown path: a scanner must not add series


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = context.accept_request_id(_header(scope, b"x-request-id"))
        token = context.request_id.set(request_id)
        status = 500
        raw_id = request_id.encode()
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", raw_id)]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            latency = time.perf_counter() - started
            route = self._route(scope)
            metrics.http_request(route, scope["method"], status, latency)
            if log.isEnabledFor(logging.INFO):  # the fields cost more than the level check
                log.info(
                    "%s %s %s",
                    scope["method"],
                    route,
                    status,
                    extra={
                        "route": route,
                        "method": scope["method"],
                        "status": status,
                        "latency_ms": round(latency * 1000, 2),
                    },
                )
            context.request_id.reset(token)

    def _route(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            # A middleware further in answered first or handed the router a copy of scope
            # (a form body turned into JSON): find the route the way the router does.
            route = self._match(scope)
        path = getattr(route, "path", None)
        return path if isinstance(path, str) else UNMATCHED

    def _match(self, scope: Scope) -> object | None:
        app = scope.get("app")
        for route in getattr(getattr(app, "router", None), "routes", ()):
            matched, _ = route.matches(scope)
            if matched == Match.FULL:
                return cast(object, route)
        return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None
