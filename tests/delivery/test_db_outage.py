"""The database away for a moment during a drain: the engine waits and resumes, nothing is
lost and nothing is sent twice. PostgreSQL: the service's connections are cut and new ones
refused; SQLite: another connection holds the write lock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy import make_url, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.db.tables import MessageLog
from app.delivery import steady
from app.runtime import Runtime
from tests.delivery.helpers import PHONE, http_gateway
from tests.waiting import eventually_async as eventually

QUEUED = 20


@contextlib.asynccontextmanager
async def postgres_away(url: str) -> AsyncIterator[None]:
    """Refuse new connections to the service's database and cut the ones it has."""
    parsed = make_url(url)
    name = parsed.database
    # From another database: a database cannot refuse the connection that changes it.
    elsewhere = parsed.set(drivername="postgresql", database="template1")
    control = await asyncpg.connect(elsewhere.render_as_string(hide_password=False))
    try:
        await control.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await control.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        yield
    finally:
        await control.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await control.close()


@contextlib.asynccontextmanager
async def sqlite_locked(url: str) -> AsyncIterator[None]:
    """Hold the database's write lock from another connection, as another program would."""
    path = str(make_url(url).database)
    holder = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(holder.execute, "BEGIN EXCLUSIVE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


async def _statuses(rt: Runtime) -> Counter[str]:
    rows = await rt.db.read(lambda tx: tx.execute(select(MessageLog.status)).all())
    return Counter(status for (status,) in rows)


async def _queue(api: Any, count: int, tag: str) -> None:
    for number in range(count):
        body = {"gateway": "gw", "phone": PHONE, "message": f"{tag} {number}", "async": True}
        reply = await api.request("POST", "/sms/send", json=body)
        assert reply.status_code == 202, reply.text


async def test_a_database_away_during_a_drain_loses_nothing_and_sends_nothing_twice(
    admin_api, runtime, http_sink, backend, caplog
):
    await http_gateway(admin_api, "gw", http_sink.url + "/send")
    http_sink.gate = asyncio.Event()  # every send waits at the gateway until the outage
    await _queue(admin_api, QUEUED, "before")

    async def all_at_the_gateway() -> bool:
        return http_sink.in_flight == QUEUED

    await eventually(all_at_the_gateway, timeout=60)
    away = postgres_away if backend == "postgresql" else sqlite_locked
    caplog.set_level(logging.WARNING, logger="smsgw.delivery")
    async with away(runtime.db.url):
        http_sink.gate.set()  # the gateway answers while the outbox cannot be written

        async def answered() -> bool:
            return http_sink.in_flight == 0

        await eventually(answered, timeout=60)
        if backend == "postgresql":

            async def write_failed() -> bool:
                return any("outbox write failed" in r.getMessage() for r in caplog.records)

            await eventually(write_failed, timeout=60)
        else:
            # The writes wait for the lock; what the outbox says has not moved.
            assert (await _statuses(runtime))["sending"] == QUEUED

    await _queue(admin_api, 5, "after")  # and the outbox takes new work again

    async def all_sent() -> bool:
        return (await _statuses(runtime)) == Counter({"sent": QUEUED + 5})

    await eventually(all_sent, timeout=120)
    texts = Counter(r.body.decode().rsplit("=", 1)[1] for r in http_sink.requests)
    assert len(texts) == QUEUED + 5 and set(texts.values()) == {1}, texts


@pytest.fixture(autouse=True)
def _open_gate(http_sink):
    yield
    if http_sink.gate is not None:
        http_sink.gate.set()
        http_sink.gate = None


def test_only_an_unreachable_database_is_waited_for():
    lost = DBAPIError("INSERT", {}, ConnectionResetError("reset by peer"))
    assert steady.unreachable(lost) and steady.unreachable(OSError("refused"))
    duplicate = IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
    assert not steady.unreachable(duplicate) and not steady.unreachable(ValueError("bug"))
