"""Several nodes on one PostgreSQL: they share the outbox, nothing is sent twice, a crash
loses nothing, and a GSM modem has exactly one owner that moves when it dies."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
import pytest_asyncio

from tests.delivery.cluster import Cluster, CountingSink, Node, admin_client, send_async
from tests.peers.modem_emulator import ModemEmulator
from tests.waiting import eventually_async as eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def database(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own: the in-process service's sender must not take these rows."""
    name = f"cluster_{uuid.uuid4().hex[:12]}"
    admin_dsn = postgres_url.replace("+asyncpg", "")
    connection = await asyncpg.connect(admin_dsn)
    await connection.execute(f'CREATE DATABASE "{name}"')
    await connection.close()
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    connection = await asyncpg.connect(admin_dsn)
    await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await connection.close()


@pytest.fixture
def cluster(database: str) -> Iterator[Cluster]:
    nodes = Cluster(database)
    yield nodes
    nodes.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def sink() -> AsyncIterator[CountingSink]:
    peer = await CountingSink(delay=0.05).start()
    yield peer
    await peer.stop()


async def _gateway(client, sink: CountingSink) -> None:
    body = {
        "name": "gw",
        "module": "providers.http.HttpProvider",
        "option.URL": sink.url + "/send",
        "option.HTTP_METHOD": "POST",
        "option.text": "{otp}",
        # Far above what the loaded sink needs: a timeout is an unknown outcome, retried,
        # and so a duplicate this test would count against the crash.
        "option.TIMEOUT": "60",
    }
    reply = await client.post("/smsgateway", json=body)
    assert reply.status_code == 200, reply.text


async def test_two_nodes_share_the_outbox_and_nothing_is_sent_twice(cluster, sink):
    first, second = cluster.start(), cluster.start()
    clients = [await admin_client(first), await admin_client(second)]
    await _gateway(clients[0], sink)
    texts = [f"message {i}" for i in range(200)]
    await send_async(clients, texts, "gw")

    async def all_sent() -> bool:
        rows = await cluster.rows("SELECT count(*) FROM message WHERE status = 'sent'")
        return int(rows[0][0]) == len(texts)

    await eventually(all_sent, timeout=180)
    assert set(sink.texts) == set(texts) and max(sink.texts.values()) == 1
    nodes = await cluster.rows("SELECT DISTINCT node FROM delivery_attempt")
    assert len(nodes) == 2
    for client in clients:
        await client.aclose()


async def test_killing_every_node_mid_load_loses_no_accepted_message(cluster):
    sink = await CountingSink(delay=0.3).start()
    try:
        first, second = cluster.start(), cluster.start()
        clients = [await admin_client(first), await admin_client(second)]
        await _gateway(clients[0], sink)
        accepted: set[str] = set()
        load = asyncio.create_task(
            send_async(clients, [f"message {i}" for i in range(400)], "gw", accepted)
        )

        async def under_way() -> bool:
            return sum(sink.texts.values()) >= 30 and sink.in_flight > 0

        await eventually(under_way, timeout=120)
        first.kill()
        second.kill()
        await load  # the rest of the load meets dead nodes: not accepted
        for client in clients:
            await client.aclose()
        in_flight = len(await cluster.rows("SELECT id FROM message WHERE status = 'sending'"))
        assert accepted and in_flight > 0
        cluster.start()
        cluster.start()

        async def all_final() -> bool:
            rows = await cluster.rows(
                "SELECT count(*) FROM message WHERE status IN ('queued', 'sending')"
            )
            return int(rows[0][0]) == 0

        await eventually(all_final, timeout=180)
        assert accepted <= set(sink.texts)
        duplicates = sum(sink.texts.values()) - len(sink.texts)
        unknown = await cluster.rows(
            "SELECT node, count(*) FROM delivery_attempt WHERE outcome = 'unknown' GROUP BY node"
        )
        assert duplicates <= in_flight, [tuple(r) for r in unknown]
        statuses = await cluster.rows("SELECT DISTINCT status FROM message")
        assert [r[0] for r in statuses] == ["sent"]
    finally:
        await sink.stop()


async def _modem_on_two_nodes(
    cluster: Cluster, modem: ModemEmulator, timeout: int
) -> tuple[Node, httpx.AsyncClient, Node, httpx.AsyncClient]:
    """Two nodes with an admin client each and a modem gateway, once one node owns it."""
    first = cluster.start()
    client = await admin_client(first)
    body = {
        "name": "modem",
        "module": "providers.gsm_modem.GsmModemProvider",
        "option.PORT": modem.path,
        "option.TIMEOUT": str(timeout),
    }
    assert (await client.post("/smsgateway", json=body)).status_code == 200
    second = cluster.start()
    other = await admin_client(second)

    async def owned() -> bool:
        return len(await cluster.rows("SELECT owner FROM modem_owner")) == 1

    await eventually(owned, timeout=20)
    return first, client, second, other


async def test_a_modem_has_one_owner_and_its_death_moves_the_modem(cluster):
    async with ModemEmulator() as modem:
        first, client, second, other = await _modem_on_two_nodes(cluster, modem, timeout=3)
        [(owner_before, epoch_before)] = await cluster.rows("SELECT owner, epoch FROM modem_owner")
        await send_async([client, other], [f"m{i}" for i in range(10)], "modem")

        async def sent(count: int) -> bool:
            return len(modem.sent) >= count

        await eventually(lambda: sent(10), timeout=30)
        nodes = await cluster.rows("SELECT DISTINCT node FROM delivery_attempt")
        assert [r[0] for r in nodes] == [owner_before]
        owner, survivor = (
            (first, other)
            if owner_before.endswith(str(first.process.pid))
            else (
                second,
                client,
            )
        )
        owner.kill()

        async def moved() -> bool:
            rows = await cluster.rows("SELECT owner, epoch FROM modem_owner")
            return rows[0][0] != owner_before

        await eventually(moved, timeout=20)
        [(_, epoch_after)] = await cluster.rows("SELECT owner, epoch FROM modem_owner")
        assert epoch_after == epoch_before + 1
        await send_async([survivor], [f"n{i}" for i in range(5)], "modem")
        await eventually(lambda: sent(15), timeout=30)
        assert modem.interleave_errors == [] and modem.protocol_errors == []
        await client.aclose()
        await other.aclose()


async def test_a_sync_send_past_its_budget_on_another_nodes_modem_is_a_202_and_still_sent(
    cluster,
):
    # The modem answers only after the caller's inline budget: the node that took the
    # request must not keep its caller waiting for the node that owns the modem.
    async with ModemEmulator(delay=8) as modem:
        first, client, _, other = await _modem_on_two_nodes(cluster, modem, timeout=30)
        [(owner,)] = await cluster.rows("SELECT owner FROM modem_owner")
        elsewhere = other if owner.endswith(str(first.process.pid)) else client
        budget = {"sms.inline_budget": 3}
        assert (await elsewhere.post("/system/setConfig", json=budget)).status_code == 200

        send = {"gateway": "modem", "phone": "+491701234567", "message": "on its way"}
        reply = await elsewhere.post("/sms/send", json=send)

        assert reply.status_code == 202, reply.text
        assert reply.json()["result"]["value"]["status"] == "sending"
        assert modem.sent == []

        async def delivered() -> bool:
            rows = await cluster.rows("SELECT status FROM message")
            return [r[0] for r in rows] == ["sent"]

        await eventually(delivered, timeout=30)
        assert [s.text for s in modem.sent] == ["on its way"]
        await client.aclose()
        await other.aclose()
