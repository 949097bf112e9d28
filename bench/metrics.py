"""How long /metrics and GET /sms/gateways/health take with 100,000 messages in the log.

    python -m bench.metrics [--messages 100000] [--gateways 5] [--rounds 50] [--database-url URL]

Fills the message log directly (most rows final, a few waiting, spread over the last day
and over the gateways), starts the service on it, and asks each route --rounds times, one
request at a time on a keep-alive connection. /healthz (one SELECT 1) is the yardstick from
the same run: what any request that touches the database costs on this machine now.
Prints one JSON line per route.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Connection, insert, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.tables import Gateway, MessageLog
from app.settings import Settings
from bench.harness import ADMIN, PASSWORD, ROOT, Client, _wait_http, emit, free_port

STATUSES = ["sent"] * 90 + ["failed"] * 8 + ["queued"] * 1 + ["sending"] * 1


def fill(url: str, messages: int, gateways: int) -> None:
    asyncio.run(_fill(Settings(database_url=url).effective_database_url, messages, gateways))


async def _fill(url: str, messages: int, gateways: int) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(_rows, messages, gateways)
    async with engine.connect() as connection:
        # Statistics as a database in service has them (autovacuum would gather them).
        await connection.execute(text("ANALYZE"))
        await connection.commit()
    await engine.dispose()


def _rows(tx: Connection, messages: int, gateways: int) -> None:
    now = datetime.now(UTC)
    names = [f"gw{n}" for n in range(gateways)]
    rng = random.Random(7)
    tx.execute(
        insert(Gateway), [{"name": n, "module": "providers.http.HttpProvider"} for n in names]
    )
    batch = []
    for index in range(messages):
        created = now - timedelta(seconds=(messages - index) * 86400 / messages)
        status = rng.choice(STATUSES)
        batch.append(
            {
                "created_at": created,
                "finished_at": created + timedelta(milliseconds=rng.uniform(50, 900)),
                "gateway": names[index % gateways],
                "phone": "+491*******67",
                "status": status,
                "latency_ms": rng.uniform(50, 900),
                "error": "http_500: gateway answered HTTP 500" if status == "failed" else "",
                "source": "api",
            }
        )
        if len(batch) == 10_000:
            tx.execute(insert(MessageLog), batch)
            batch = []
    if batch:
        tx.execute(insert(MessageLog), batch)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(base: str, pid: int, rounds: int) -> None:
    client = Client(base, 1)
    try:
        await client.login()
        for path in ("/healthz", "/metrics", "/sms/gateways/health", "/healthz"):
            await client.timed("GET", path)  # warm: connection, caches, plans
            times = []
            cpu = cpu_seconds(pid)
            for _ in range(rounds):
                status, _, seconds = await client.timed("GET", path)
                assert status == 200, (path, status)
                times.append(seconds * 1000)
            cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / rounds
            times.sort()
            emit(
                {
                    "route": path,
                    "rounds": rounds,
                    "p50_ms": round(times[len(times) // 2], 2),
                    "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
                    "max_ms": round(times[-1], 2),
                    # CPU the service spent per request: what the route costs, whatever
                    # else the machine was doing meanwhile.
                    "service_cpu_ms": round(cpu_ms, 2),
                }
            )
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--gateways", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="smsgw-bench-") as data_dir:
        url = args.database_url or f"sqlite:///{data_dir}/smsgw.db"
        env = {
            **os.environ,
            "SMSGW_DATA_DIR": data_dir,
            "SMSGW_DATABASE_URL": url,
            "SMSGW_ADMIN_USER": ADMIN,
            "SMSGW_ADMIN_PASSWORD": PASSWORD,
            "SMSGW_LOG_LEVEL": "WARNING",
        }
        run = [sys.executable, "-m", "app.cli"]
        subprocess.run([*run, "db", "upgrade"], cwd=ROOT, env=env, check=True)
        started = time.perf_counter()
        fill(url, args.messages, args.gateways)
        emit({"filled": args.messages, "seconds": round(time.perf_counter() - started, 1)})
        port = free_port()
        process = subprocess.Popen(
            [*run, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_http(base + "/healthz", process)
            asyncio.run(measure(base, process.pid, args.rounds))
        finally:
            process.terminate()
            process.wait(15)


if __name__ == "__main__":
    main()
