"""Which HTTP client the HTTP provider uses, by measurement.

    python -m bench.http_client [--sends 3000] [--concurrency 200] [--delay 0.2]

Sends the same POST to a local sink (own process, answering after --delay) through
httpx's default transport, httpx on the httpx-aiohttp transport, and aiohttp's client
directly; prints one JSON line each: throughput, p99, and CPU seconds per send of this
process. CPU per send is what limits the service, which does the same work per SMS.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from bench.harness import emit, sink_process


async def measure(
    name: str, post: Callable[[], Awaitable[None]], sends: int, concurrency: int, delay: float
) -> None:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one() -> None:
        async with gate:
            started = time.perf_counter()
            await post()
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(one() for _ in range(concurrency)))  # open the connections
    latencies.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(sends)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    latencies.sort()
    emit(
        {
            "bench": "http_client",
            "client": name,
            "delay_ms": delay * 1000,
            "concurrency": concurrency,
            "sends": sends,
            "per_s": round(sends / wall, 1),
            "p99_ms": round(latencies[int(0.99 * len(latencies))] * 1000, 1),
            "cpu_ms_per_send": round(cpu / sends * 1000, 3),
        }
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.2)
    args = parser.parse_args()
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    data = {"to": "+491701234567", "text": "123456"}
    with sink_process(args.delay) as sink:
        url = sink + "/send"
        clients: list[tuple[str, httpx.AsyncClient | aiohttp.ClientSession]] = [
            ("httpx default transport", httpx.AsyncClient(limits=limits)),
            ("httpx + httpx-aiohttp", httpx.AsyncClient(transport=AiohttpTransport(limits=limits))),
            ("aiohttp", aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1000))),
        ]
        for name, client in clients:
            if isinstance(client, httpx.AsyncClient):

                async def post(client: httpx.AsyncClient = client) -> None:
                    (await client.post(url, data=data)).raise_for_status()

                await measure(name, post, args.sends, args.concurrency, args.delay)
                await client.aclose()
            else:

                async def post_aiohttp(session: aiohttp.ClientSession = client) -> None:
                    async with session.post(url, data=data) as reply:
                        await reply.text()

                await measure(name, post_aiohttp, args.sends, args.concurrency, args.delay)
                await client.close()


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
