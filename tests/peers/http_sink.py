"""A local HTTP server that records every request, byte for byte, and answers as told."""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict


@dataclass
class Received:
    method: str
    path: str
    query: str
    headers: CIMultiDict[str]  # case-insensitive, as HTTP headers are
    body: bytes
    peer: tuple[str, int] | None = None
    at: float = field(default_factory=time.time)  # arrival, by the sink's own clock


@dataclass
class HttpSink:
    status: int = 200
    reply: str = "OK"
    reply_headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    close_connection: bool = False
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    count: int = 0
    record: bool = True
    # Set to hold every request until it is set: tests then see what is in flight at once.
    gate: asyncio.Event | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    _runner: web.AppRunner | None = None

    @property
    def last(self) -> Received:
        return self.requests[-1]

    async def _stats(self, _: web.Request) -> web.StreamResponse:
        return web.json_response({"count": self.count})

    async def _bodies(self, _: web.Request) -> web.StreamResponse:
        return web.json_response([r.body.decode() for r in self.requests])

    async def _times(self, _: web.Request) -> web.StreamResponse:
        return web.json_response([r.at for r in self.requests])

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.count += 1
        if self.record:
            self.requests.append(
                Received(
                    request.method,
                    request.path,
                    request.raw_path.partition("?")[2],
                    CIMultiDict(request.headers),
                    body,
                    request.transport.get_extra_info("peername") if request.transport else None,
                )
            )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if self.close_connection:
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        return web.Response(status=self.status, text=self.reply, headers=self.reply_headers)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> HttpSink:
        app = web.Application(client_max_size=10 * 1024 * 1024)
        app.router.add_get("/__stats", self._stats)
        app.router.add_get("/__bodies", self._bodies)
        app.router.add_get("/__times", self._times)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, backlog=4096)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.url = f"http://{host}:{sockets[0].getsockname()[1]}"
        return self

    async def start_tls(self, context: ssl.SSLContext, host: str = "127.0.0.1") -> HttpSink:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0, ssl_context=context)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.url = f"https://{host}:{sockets[0].getsockname()[1]}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def main() -> None:
    """Run a sink in its own process: python -m tests.peers.http_sink PORT DELAY [record]."""
    import sys

    port, delay = int(sys.argv[1]), float(sys.argv[2])
    record = sys.argv[3:] == ["record"]

    async def serve() -> None:
        sink = HttpSink(delay=delay, record=record)
        await sink.start(port=port)
        print(sink.url, flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())


if __name__ == "__main__":
    main()
