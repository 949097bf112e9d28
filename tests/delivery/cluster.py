"""Service processes sharing one PostgreSQL database, as separate nodes would: each with
its own data directory, all with the same database URL and keys."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiohttp import web
from cryptography.fernet import Fernet

from tests.peers.http_sink import HttpSink
from tests.peers.ports import free_port
from tests.waiting import eventually_sync

ROOT = Path(__file__).resolve().parents[2]
ADMIN, PASSWORD = "admin", "cluster-test-password"


@dataclass
class Node:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: tempfile.TemporaryDirectory[str]

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lease released, no attempt closed."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.data_dir.cleanup()


@dataclass
class Cluster:
    database_url: str
    lease_seconds: float = 5.0
    nodes: list[Node] = field(default_factory=list)
    keys: dict[str, str] = field(
        default_factory=lambda: {
            "SMSGW_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "SMSGW_JWT_KEY": secrets.token_urlsafe(48),
        }
    )

    def start(self) -> Node:
        port = free_port()
        data_dir = tempfile.TemporaryDirectory(prefix="smsgw-node-")
        env = {
            **os.environ,
            **self.keys,
            "SMSGW_DATA_DIR": data_dir.name,
            "SMSGW_DATABASE_URL": self.database_url,
            "SMSGW_ADMIN_USER": ADMIN,
            "SMSGW_ADMIN_PASSWORD": PASSWORD,
            "SMSGW_LOG_LEVEL": "WARNING",
            "SMSGW_DELIVERY_LEASE_SECONDS": str(self.lease_seconds),
            "SMSGW_DELIVERY_POLL_SECONDS": "0.2",
            "SMSGW_PIN_WORKERS": "false",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        node = Node(f"http://127.0.0.1:{port}", process, data_dir)
        _wait_http(node.url + "/healthz", process)
        self.nodes.append(node)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    async def rows(self, query: str) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.database_url.replace("+asyncpg", ""))
        try:
            return list(await connection.fetch(query))
        finally:
            await connection.close()


def _wait_http(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
        except httpx.HTTPError:
            return False
        return True

    eventually_sync(up, timeout=seconds)


async def admin_client(node: Node) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=node.url, timeout=30)
    reply = await client.post("/auth", json={"username": ADMIN, "password": PASSWORD})
    reply.raise_for_status()
    client.headers["Authorization"] = reply.json()["result"]["value"]["token"]
    return client


class CountingSink(HttpSink):
    """An HTTP sink that counts each distinct text and the requests it is answering."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(delay=delay, record=False)
        self.texts: Counter[str] = Counter()
        self.in_flight = 0

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        self.texts[str(form.get("text", ""))] += 1
        self.in_flight += 1
        try:
            return await super()._handle(request)
        finally:
            self.in_flight -= 1


async def send_async(
    clients: list[httpx.AsyncClient],
    texts: list[str],
    gateway: str,
    accepted: set[str] | None = None,
) -> None:
    """POST every text as an async send, spread over the clients, 20 at a time.

    With `accepted`, collect the texts answered 202 and tolerate nodes that die meanwhile.
    """
    semaphore = asyncio.Semaphore(20)

    async def one(index: int, text: str) -> None:
        async with semaphore:
            body: dict[str, Any] = {
                "gateway": gateway,
                "phone": "+491701234567",
                "message": text,
                "async": True,
            }
            try:
                reply = await clients[index % len(clients)].post("/sms/send", json=body)
            except httpx.HTTPError:
                if accepted is None:
                    raise
                return
            if accepted is None:
                assert reply.status_code == 202, reply.text
            elif reply.status_code == 202:
                accepted.add(text)

    await asyncio.gather(*(one(i, t) for i, t in enumerate(texts)))
