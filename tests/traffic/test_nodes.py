"""Two service processes on one database (two workers, or two nodes): one count, one rate."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.api.sms_login import PHONE
from tests.waiting import eventually_async, eventually_sync

PASSWORD = "nodes-test-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    def up() -> bool:
        assert process.poll() is None, "the service process ended"
        return _healthy(url)

    eventually_sync(up, timeout=60)


def _database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    server: str = request.getfixturevalue("postgres_url")
    name = f"nodes_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        connection = await asyncpg.connect(server.replace("postgresql+asyncpg://", "postgresql://"))
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()

    asyncio.run(create())
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def nodes(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[list[str]]:
    """Two `smsgw serve` processes sharing the data directory and the database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMSGW_")}
    env |= {
        "SMSGW_DATA_DIR": str(tmp_path),
        "SMSGW_DATABASE_URL": _database(backend, tmp_path, request),
        "SMSGW_ADMIN_PASSWORD": PASSWORD,
        "SMSGW_LOG_LEVEL": "WARNING",
        "SMSGW_CACHE_SECONDS": "0",  # a rule written through one is used by the other at once
    }
    processes: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for _ in range(2):  # one after the other: the first migrates and makes the keys
            port = _free_port()
            command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port)]
            processes.append(subprocess.Popen(command, env=env, cwd=tmp_path))
            urls.append(f"http://127.0.0.1:{port}")
            _wait_healthy(urls[-1], processes[-1])
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)


async def _admin(client: httpx.AsyncClient, url: str) -> dict[str, str]:
    reply = await client.post(url + "/auth", json={"username": "admin", "password": PASSWORD})
    return {"Authorization": reply.json()["result"]["value"]["token"]}


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, object], **kw: object) -> dict:
    reply = await client.post(url, json=body, **kw)  # type: ignore[arg-type]
    assert reply.status_code in (200, 202), reply.text  # 202: queued (async)
    return reply.json()  # type: ignore[no-any-return]


async def _gateway(
    client: httpx.AsyncClient, url: str, sink_url: str, auth: dict[str, str]
) -> None:
    gateway = {
        "name": "sms-gw", "module": "providers.http.HttpProvider",
        "option.URL": sink_url + "/send", "option.HTTP_METHOD": "POST",
        "option.to": "{phone}", "option.text": "{otp}",
    }  # fmt: skip
    await _post(client, url + "/smsgateway", gateway, headers=auth)
    await _post(client, url + "/system/setConfig", {"sms.identifier": "sms-gw"}, headers=auth)


async def test_two_processes_share_one_count_per_number(nodes, http_sink):
    first, second = nodes
    async with httpx.AsyncClient(timeout=30) as client:
        auth = await _admin(client, first)
        await _gateway(client, first, http_sink.url, auth)
        await _post(client, first + "/traffic/settings", {"resend_cooldown": 0}, headers=auth)
        token = {"type": "sms", "user": "alice", "realm": "corp", "pin": "1234", "phone": PHONE}
        await _post(client, first + "/token/init", token, headers=auth)
        login = {"user": "alice", "realm": "corp", "pass": "1234"}
        answers = [
            (await _post(client, url + "/validate/check", login))["result"]["authentication"]
            for url in (first, second) * 3
        ]
    assert answers == ["CHALLENGE"] * 5 + ["REJECT"]
    assert len(http_sink.requests) == 5


@pytest.fixture
def sink_process() -> Iterator[str]:
    """A recording sink in a process of its own: its clock is not this process's event
    loop, which is busy driving the load."""
    port = _free_port()
    command = [sys.executable, "-m", "tests.peers.http_sink", str(port), "0", "record"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert process.poll() is None, "the sink process ended"
            return _answers(url + "/__stats")

        eventually_sync(up, timeout=30)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def test_a_gateway_rate_holds_with_two_processes_sending(nodes, sink_process):
    first, second = nodes
    rate, burst = 50, 10
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as client:
        auth = await _admin(client, first)
        await _gateway(client, first, sink_process, auth)
        limits = {"rate": rate, "burst": burst}
        await _post(client, first + "/traffic/gateways/sms-gw", limits, headers=auth)
        # Queued, so each node's sender drives them at the gateway's pace.
        send = {"gateway": "sms-gw", "phone": PHONE, "message": "hi", "async": True}
        await asyncio.gather(
            *(_post(client, url + "/sms/send", send, headers=auth) for url in (first, second) * 80)
        )

        # Every message either arrives or runs out of retries (a wait for the gateway's own
        # slot counts as a try): wait until none is left waiting, then read the sink.
        async def none_waiting() -> bool:
            for status in ("queued", "sending"):
                url = f"{first}/sms/messages?status={status}&pagesize=1"
                reply = await client.get(url, headers=auth)
                if reply.json()["result"]["value"]["count"]:
                    return False
            return True

        await eventually_async(none_waiting, timeout=300)
        arrivals = (await client.get(sink_process + "/__times")).json()
    per_second = Counter(int(at) for at in arrivals)
    assert sum(per_second.values()) >= 2 * rate
    assert max(per_second.values()) <= rate + burst, sorted(per_second.items())
