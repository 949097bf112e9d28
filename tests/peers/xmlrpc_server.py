"""A local XML-RPC server playing Sipgate: it records each call and answers as told (a
success, a non-200 StatusCode, a fault, an HTTP error, garbage, or late)."""

from __future__ import annotations

import asyncio
import xmlrpc.client
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Call:
    method: str
    params: tuple[Any, ...]
    authorization: str
    proxy_authorization: str
    content_type: str
    # What the request line named: an absolute URL when the call came through a proxy.
    request_line_url: str
    peer: tuple[str, int] | None = None


def _success() -> dict[str, Any]:
    return {"StatusCode": 200, "StatusString": "Method success", "SessionID": "s-1"}


@dataclass
class XmlRpcServer:
    answer: Any = field(default_factory=_success)
    fault: tuple[int, str] | None = None
    http_status: int = 200
    http_headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    delay: float = 0.0
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        params, method = xmlrpc.client.loads(await request.read())
        self.calls.append(
            Call(
                method or "",
                params,
                request.headers.get("Authorization", ""),
                request.headers.get("Proxy-Authorization", ""),
                request.headers.get("Content-Type", ""),
                str(request.url),
                request.transport.get_extra_info("peername") if request.transport else None,
            )
        )
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.http_status != 200:
            return web.Response(
                status=self.http_status, text="unavailable", headers=self.http_headers
            )
        if self.raw is not None:
            return web.Response(body=self.raw, content_type="text/xml")
        if self.fault is not None:
            body = xmlrpc.client.dumps(xmlrpc.client.Fault(*self.fault), methodresponse=True)
        else:
            body = xmlrpc.client.dumps((self.answer,), methodresponse=True)
        return web.Response(text=body, content_type="text/xml")

    async def start(self) -> XmlRpcServer:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        # Cancel a handler whose client gave up, so a delayed answer does not outlive a test.
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
