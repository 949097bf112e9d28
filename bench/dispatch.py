"""Concurrency benchmark of POST /sms/send (and of the GSM modem path).

    python -m bench.dispatch [--sends 2000] [--concurrency 200] [--delay 0.2] [--database-url URL]

Starts the service (uvicorn, SQLite in a temporary directory unless --database-url) and a
local HTTP sink answering after --delay seconds, each in its own process; this process is
the load client (aiohttp, keep-alive). Prints one JSON line per run.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from bench.harness import Client, drive, emit, service_process, sink_count, sink_process


async def http_run(
    service: str, sink: str, *, sends: int, concurrency: int, delay: float, label: str
) -> None:
    client = Client(service, concurrency)
    try:
        await client.login()
        gateway = f"bench-{label}"
        await client.call(
            "POST",
            "/smsgateway",
            {
                "name": gateway,
                "module": "providers.http.HttpProvider",
                "options": {
                    "URL": sink + "/send",
                    "HTTP_METHOD": "POST",
                    "to": "{phone}",
                    "text": "{otp}",
                    "TIMEOUT": "30",
                },
            },
        )
        # One send per connection first, not counted: connections to the service and to the
        # gateway are opened once in a service's life, not in every burst.
        warmup = [
            {"gateway": gateway, "phone": "+491700000000", "message": "warm-up"}
        ] * concurrency
        await drive(client, "POST", "/sms/send", warmup, concurrency, ramp=delay)
        before_sink = await sink_count(sink)
        before_log = await client.call("GET", f"/sms/messages?gateway={gateway}&pagesize=1")
        bodies = [
            {"gateway": gateway, "phone": f"+4917{i:08d}", "message": f"Code {i:06d}"}
            for i in range(sends)
        ]
        run, _ = await drive(client, "POST", "/sms/send", bodies, concurrency, ramp=delay)
        arrived = await sink_count(sink) - before_sink
        logged = await client.call("GET", f"/sms/messages?gateway={gateway}&pagesize=1")
        rows = logged["result"]["value"]["count"] - before_log["result"]["value"]["count"]
        figures = run.figures()
        target = concurrency / delay if delay else None
        emit(
            {
                "bench": "dispatch_http",
                "delay_ms": delay * 1000,
                "concurrency": concurrency,
                **figures,
                "sink_count": arrived,
                "log_rows": rows,
                "lost": sends - min(arrived, rows, figures["ok"]),
                "ideal_per_s": target,
                "of_ideal": round(figures["steady_per_s"] / target, 3) if target else None,
            }
        )
    finally:
        await client.close()


async def modem_run(service: str, *, sends: int, delay: float, gateways: int = 4) -> None:
    """Concurrent /sms/send through several gateways that share one emulated GSM modem."""
    from collections import Counter

    from tests.peers.modem_emulator import ModemEmulator

    client = Client(service, sends)
    try:
        await client.login()
        async with ModemEmulator(delay=delay) as modem:
            names = [f"modem-{n}" for n in range(gateways)]
            for name in names:
                await client.call(
                    "POST",
                    "/smsgateway",
                    {
                        "name": name,
                        "module": "providers.gsm_modem.GsmModemProvider",
                        "options": {"PORT": modem.path, "TIMEOUT": "60"},
                    },
                )
            texts = [f"Your code is {i:06d}" for i in range(sends)]
            bodies = [
                {"gateway": names[i % gateways], "phone": f"+4917{i:08d}", "message": text}
                for i, text in enumerate(texts)
            ]
            run, _ = await drive(client, "POST", "/sms/send", bodies, sends)
            arrived = Counter(sent.text for sent in modem.sent)
        emit(
            {
                "bench": "dispatch_gsm_modem",
                "through": "POST /sms/send",
                "gateways_on_one_modem": gateways,
                "delay_ms": delay * 1000,
                **run.figures(),
                "utilisation": round(sends * delay / run.elapsed, 3),
                "interleaved": len(modem.interleave_errors),
                "sent_once": arrived == Counter(texts),
            }
        )
    finally:
        await client.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--database-url", default=os.environ.get("SMSGW_BENCH_DATABASE_URL"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skip-modem", action="store_true")
    args = parser.parse_args()

    with service_process(args.database_url, args.workers) as service:
        for delay in (args.delay, 0.0):
            with sink_process(delay) as sink:
                await http_run(
                    service,
                    sink,
                    sends=args.sends,
                    concurrency=args.concurrency,
                    delay=delay,
                    label=f"{int(delay * 1000)}ms",
                )
    if not args.skip_modem:
        # A serial modem belongs to one process: this run uses a single worker.
        with service_process(args.database_url, 1) as service:
            await modem_run(service, sends=100, delay=0.1)


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
