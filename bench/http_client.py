"""Which HTTP client the HTTP provider uses, by measurement.

    python -m bench.http_client [--sends 3000] [--concurrency 200] [--delay 0.2] [--rounds 2]
                                [--with-httpx-default]

Sends the same POST to a local sink (own process, answering after --delay) through
aiohttp's client, built exactly as the providers build it (providers/http_client.py), and
through httpx on the httpx-aiohttp transport with the same pool size. The two alternate, A/B/A/B for
--rounds rounds, so that load from elsewhere on the machine falls on both alike. Prints
one JSON line per run: throughput, its ceiling (concurrency / delay), p99, and CPU
seconds per send of this process; then one summary line with each client's mean and
the ratio of httpx's throughput to aiohttp's. CPU per send is what limits the service,
which does the same work per SMS.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import HttpxAiohttpClient

from bench.harness import emit, sink_process
from providers.http_client import MAX_CONNECTIONS, pooled_session

Post = Callable[[], Awaitable[None]]


async def measure(
    name: str, post: Post, sends: int, concurrency: int, delay: float
) -> dict[str, Any]:
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
    figures = {
        "bench": "http_client",
        "client": name,
        "delay_ms": delay * 1000,
        "concurrency": concurrency,
        "sends": sends,
        "per_s": round(sends / wall, 1),
        "ceiling_per_s": round(concurrency / delay, 1) if delay else None,
        "p99_ms": round(latencies[int(0.99 * len(latencies))] * 1000, 1),
        "cpu_ms_per_send": round(cpu / sends * 1000, 3),
    }
    emit(figures)
    return figures


def httpx_post(client: httpx.AsyncClient, url: str, body: bytes) -> Post:
    async def post() -> None:
        (await client.post(url, content=body, headers=_FORM)).raise_for_status()

    return post


def aiohttp_post(session: aiohttp.ClientSession, url: str, body: bytes) -> Post:
    async def post() -> None:
        async with session.post(url, data=body, headers=_FORM) as reply:
            await reply.text()
            reply.raise_for_status()

    return post


_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--with-httpx-default", action="store_true")
    args = parser.parse_args()
    body = b"to=%2B491701234567&text=123456"
    results: dict[str, list[dict[str, Any]]] = {}
    with sink_process(args.delay) as sink:
        url = sink + "/send"
        for _ in range(args.rounds):
            session = pooled_session()
            limits = httpx.Limits(max_connections=MAX_CONNECTIONS)
            client = HttpxAiohttpClient(limits=limits, timeout=None, trust_env=False)
            runs: list[tuple[str, Post, Callable[[], Awaitable[None]]]] = [
                ("aiohttp", aiohttp_post(session, url, body), session.close),
                ("httpx + httpx-aiohttp", httpx_post(client, url, body), client.aclose),
            ]
            if args.with_httpx_default:
                plain = httpx.AsyncClient(limits=limits)
                runs.append(("httpx default transport", httpx_post(plain, url, body), plain.aclose))
            for name, post, close in runs:
                figures = await measure(name, post, args.sends, args.concurrency, args.delay)
                results.setdefault(name, []).append(figures)
                await close()
    means = {name: statistics.mean(r["per_s"] for r in runs) for name, runs in results.items()}
    cpu = {
        name: statistics.mean(r["cpu_ms_per_send"] for r in runs) for name, runs in results.items()
    }
    emit(
        {
            "bench": "http_client_summary",
            "rounds": args.rounds,
            "per_s": {name: round(value, 1) for name, value in means.items()},
            "cpu_ms_per_send": {name: round(value, 3) for name, value in cpu.items()},
            "httpx_vs_aiohttp": round(means["httpx + httpx-aiohttp"] / means["aiohttp"], 3),
        }
    )


if __name__ == "__main__":
    import uvloop

    uvloop.run(main())
