"""Benchmarks of durable delivery, each figure next to its yardstick from the same run.

    python -m bench.outbox bulk     [--sends 4000] [--concurrency 200] [--delay 0.2]
    python -m bench.outbox async    [--sends 10000] [--concurrency 200] [--delay 0.2]
    python -m bench.outbox failover [--sends 2000] [--concurrency 100] [--delay 0.2]
    common: [--workers 2] [--database-url URL]

bulk: synchronous POST /sms/send through a gateway answering after --delay, the outbox
and attempts written, against ../shared/bench/ref_forwarder.py (no database, no auth) with
as many processes as the service has workers, under the same load.
async: --sends "async": true sends against a gateway answering at once (the accept rate,
against the forwarder's rate at the same gateway), then the same number drained through a
gateway answering after --delay with the sender's concurrency set to --concurrency in all
(against the forwarder at that delay and concurrency); then enqueue-to-first-attempt
latency of single sends on an idle engine.
failover: synchronous sends through ["dead", "live"] (nothing listens at "dead") against
["live"] alone: the p99 added by failing over.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from bench.harness import (
    ROOT,
    Client,
    drive,
    emit,
    free_port,
    service_process,
    sink_count,
    sink_process,
)

REFERENCE = ROOT.parent / "shared" / "bench" / "ref_forwarder.py"


@contextmanager
def forwarder_process(gateway_url: str, processes: int) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            str(REFERENCE),
            "--gateway-url",
            gateway_url,
            "--method",
            "POST",
            "--port",
            str(port),
            "--processes",
            str(processes),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http_post(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _wait_http_post(url: str, process: subprocess.Popen[bytes]) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: forwarder exited with {process.returncode}")
        try:
            urllib.request.urlopen(urllib.request.Request(url + "/auth", data=b"{}"), timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


async def _gateway(client: Client, name: str, url: str) -> None:
    options = {"URL": url, "HTTP_METHOD": "POST", "to": "{phone}", "text": "{otp}"}
    await client.call(
        "POST",
        "/smsgateway",
        {
            "name": name,
            "module": "providers.http.HttpProvider",
            "options": options | {"TIMEOUT": "30"},
        },
    )


def _bodies(count: int, route: list[str], *, is_async: bool = False, tag: str = "") -> list[dict]:
    key = "gateways" if len(route) > 1 else "gateway"
    value: object = route if len(route) > 1 else route[0]
    body = {key: value, "async": True} if is_async else {key: value}
    return [
        {**body, "phone": f"+4917{i:08d}", "message": f"{tag}Code {i:06d}"} for i in range(count)
    ]


async def _load(base: str, bodies: list[dict], concurrency: int, ramp: float) -> dict:
    client = Client(base, concurrency)
    try:
        await client.login()
        run, _ = await drive(
            client, "POST", "/sms/send", bodies, concurrency, ramp=ramp, ok_statuses=(200, 202)
        )
        return run.figures()
    finally:
        await client.close()


async def bulk(args: argparse.Namespace) -> None:
    with sink_process(args.delay) as sink:
        with forwarder_process(sink + "/send", args.workers) as reference:
            warm = _bodies(args.concurrency, ["gw"])
            await _load(reference, warm, args.concurrency, args.delay)
            yardstick = await _load(
                reference, _bodies(args.sends, ["gw"]), args.concurrency, args.delay
            )
        with service_process(args.database_url, args.workers) as service:
            client = Client(service, 1)
            await client.login()
            await _gateway(client, "gw", sink + "/send")
            await client.close()
            await _load(service, _bodies(args.concurrency, ["gw"]), args.concurrency, args.delay)
            before = await sink_count(sink)
            figures = await _load(
                service, _bodies(args.sends, ["gw"]), args.concurrency, args.delay
            )
            arrived = await sink_count(sink) - before
    rate, reference_rate = figures["steady_per_s"], yardstick["steady_per_s"]
    emit(
        {
            "bench": "outbox_bulk_sync",
            "database": "postgresql" if args.database_url else "sqlite",
            "workers": args.workers,
            "delay_ms": args.delay * 1000,
            "concurrency": args.concurrency,
            **figures,
            "arrived": arrived,
            "reference_per_s": reference_rate,
            "reference_p99_ms": yardstick["p99_ms"],
            "of_reference": round(rate / reference_rate, 3),
        }
    )


async def _wait_drained(expected: int, sink: str, before: int) -> None:
    while await sink_count(sink) - before < expected:
        await asyncio.sleep(0.05)


async def async_sends(args: argparse.Namespace) -> None:
    per_worker = max(1, args.concurrency // args.workers)
    env = {"SMSGW_DELIVERY_CONCURRENCY": str(per_worker)}
    with sink_process(0.0) as instant, sink_process(args.delay) as slow:
        with forwarder_process(instant + "/send", args.workers) as reference:
            await _load(reference, _bodies(args.concurrency, ["gw"]), args.concurrency, 0)
            instant_reference = await _load(
                reference, _bodies(args.sends, ["gw"]), args.concurrency, 0
            )
        with forwarder_process(slow + "/send", args.workers) as reference:
            await _load(reference, _bodies(args.concurrency, ["gw"]), args.concurrency, args.delay)
            slow_reference = await _load(
                reference, _bodies(args.sends, ["gw"]), args.concurrency, args.delay
            )
        with service_process(args.database_url, args.workers, env) as service:
            client = Client(service, 1)
            await client.login()
            await _gateway(client, "instant", instant + "/send")
            await _gateway(client, "slow", slow + "/send")
            await client.close()
            warm = _bodies(args.concurrency, ["instant"], is_async=True, tag="warm ")
            await _load(service, warm, args.concurrency, 0)
            await _wait_drained(args.concurrency, instant, 0)
            accept = await _load(
                service, _bodies(args.sends, ["instant"], is_async=True), args.concurrency, 0
            )
            # The drain: from the first accept to the last arrival (accepting is the faster
            # part, so this is the rate the sender sustains through the slow gateway).
            before = await sink_count(slow)
            started = time.perf_counter()
            drained = _bodies(args.sends, ["slow"], is_async=True, tag="drain ")
            await _load(service, drained, args.concurrency, 0)
            await _wait_drained(args.sends, slow, before)
            drain_s = time.perf_counter() - started
            latency = await _idle_latency(service)
    emit(
        {
            "bench": "outbox_async_accept",
            "database": "postgresql" if args.database_url else "sqlite",
            "workers": args.workers,
            "concurrency": args.concurrency,
            **accept,
            "reference_per_s": instant_reference["per_s"],
            "of_reference": round(accept["per_s"] / instant_reference["per_s"], 3),
        }
    )
    drain_rate = args.sends / drain_s
    emit(
        {
            "bench": "outbox_async_drain",
            "delay_ms": args.delay * 1000,
            "sends": args.sends,
            "drain_s": round(drain_s, 3),
            "per_s": round(drain_rate, 1),
            "reference_per_s": slow_reference["per_s"],
            "of_reference": round(drain_rate / slow_reference["per_s"], 3),
        }
    )
    emit({"bench": "outbox_enqueue_to_first_attempt", **latency})


async def _idle_latency(service: str, count: int = 200) -> dict[str, float]:
    """Single async sends on an idle engine: created_at to the first attempt's start."""
    client = Client(service, 1)
    try:
        await client.login()
        ids = set()
        for i in range(count):
            body = {
                "gateway": "instant",
                "phone": "+491700000000",
                "message": f"idle {i}",
                "async": True,
            }
            _, answer, _ = await client.timed("POST", "/sms/send", body)
            ids.add(answer["result"]["value"]["id"])
            await asyncio.sleep(0.02)  # one at a time: the engine is idle for each
        delays: list[float] = []
        while len(delays) < count:
            delays = []
            page = await client.call("GET", "/sms/messages?pagesize=500&gateway=instant")
            for message in page["result"]["value"]["messages"]:
                if message["id"] not in ids or message["status"] != "sent":
                    continue
                created = datetime.fromisoformat(message["created_at"])
                first = datetime.fromisoformat(message["attempt_log"][0]["started_at"])
                delays.append((first - created).total_seconds() * 1000)
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    delays.sort()
    return {
        "messages": len(delays),
        "p50_ms": round(delays[len(delays) // 2], 1),
        "p99_ms": round(delays[min(len(delays) - 1, int(len(delays) * 0.99))], 1),
    }


async def failover(args: argparse.Namespace) -> None:
    dead = f"http://127.0.0.1:{free_port()}/send"
    with (
        sink_process(args.delay) as sink,
        service_process(args.database_url, args.workers) as service,
    ):
        client = Client(service, 1)
        await client.login()
        await _gateway(client, "live", sink + "/send")
        await _gateway(client, "dead", dead)
        await client.close()
        await _load(service, _bodies(args.concurrency, ["live"]), args.concurrency, args.delay)
        direct = await _load(service, _bodies(args.sends, ["live"]), args.concurrency, args.delay)
        failing = await _load(
            service, _bodies(args.sends, ["dead", "live"]), args.concurrency, args.delay
        )
    emit(
        {
            "bench": "outbox_failover",
            "delay_ms": args.delay * 1000,
            "direct_p99_ms": direct["p99_ms"],
            "failover_p99_ms": failing["p99_ms"],
            "added_p99_ms": round(failing["p99_ms"] - direct["p99_ms"], 1),
            "failover_ok": failing["ok"],
            "failover_failed": failing["failed"],
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["bulk", "async", "failover"])
    parser.add_argument("--sends", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=os.environ.get("SMSGW_BENCH_DATABASE_URL"))
    args = parser.parse_args()
    defaults = {"bulk": (4000, 200), "async": (10000, 200), "failover": (2000, 100)}
    sends, concurrency = defaults[args.mode]
    args.sends = args.sends or sends
    args.concurrency = args.concurrency or concurrency
    run = {"bulk": bulk, "async": async_sends, "failover": failover}[args.mode]
    try:
        import uvloop

        uvloop.run(run(args))
    except ImportError:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
