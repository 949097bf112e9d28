"""The batch writer: rows that arrive together share one transaction, a caller's rows
are committed before it goes on, and a failed batch writes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlmodel import SQLModel

from app.db.audit_repo import AUDIT
from app.db.engine import Database, Work, connect
from app.db.message_repo import MESSAGES
from app.db.tables import utcnow
from app.services import audit
from app.services.batch_writer import BatchWriter
from tests.waiting import eventually


class CountingDatabase(Database):
    """The real database, counting its write transactions."""

    def __init__(self, db: Database) -> None:
        self.db, self.url, self.dialect = db, db.url, db.dialect
        self.writes = 0
        self.gate: asyncio.Event | None = None  # set: writes wait for it

    async def write(self, work: Work[Any]) -> Any:
        self.writes += 1
        if self.gate is not None:
            await self.gate.wait()
        return await self.db.write(work)

    async def read(self, work: Work[Any]) -> Any:
        return await self.db.read(work)

    async def dispose(self) -> None:
        await self.db.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def db(tmp_path: Path) -> AsyncIterator[CountingDatabase]:
    real = connect(f"sqlite:///{tmp_path / 'journal.db'}")
    await real.write(lambda tx: SQLModel.metadata.create_all(tx.connection()))
    yield CountingDatabase(real)
    await real.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def writer(db: CountingDatabase) -> AsyncIterator[BatchWriter]:
    journal = BatchWriter(db)
    yield journal
    await journal.aclose()


def message(**fields: Any) -> dict[str, Any]:
    now = utcnow()
    row = {"created_at": now, "finished_at": now, "gateway": "gw1", "phone": "+49170***67"}
    return row | {"status": "sent", "attempts": 1, "parts": 1, "latency_ms": 1.0} | fields


async def count(db: Database, table: Any) -> int:
    query = select(func.count()).select_from(table)
    return int(await db.read(lambda tx: tx.execute(query).scalar_one()))


async def test_rows_that_arrive_together_share_one_transaction(db, writer):
    ids = await asyncio.gather(*(writer.record(MESSAGES, message()) for _ in range(50)))
    assert sorted(ids) == ids and len(set(ids)) == 50
    assert db.writes == 1
    assert await count(db, MESSAGES) == 50


async def test_a_row_is_committed_when_record_returns(db, writer):
    row_id = await writer.record(AUDIT, audit.entry(action="auth", actor="alice"))
    query = select(AUDIT.c.actor).where(AUDIT.c.id == row_id)
    actors = await db.read(lambda tx: tx.execute(query).all())
    assert actors == [("alice",)]


async def test_rows_recorded_together_commit_together_or_not_at_all(db, writer):
    bad_audit_row = audit.entry(action="auth") | {"action": None}  # NOT NULL
    with pytest.raises(Exception, match="NOT NULL"):
        await writer.record_together([(MESSAGES, message()), (AUDIT, bad_audit_row)])
    assert await count(db, MESSAGES) == 0
    ids = await writer.record_together([(MESSAGES, message()), (AUDIT, audit.entry(action="x"))])
    assert len(ids) == 2
    assert (await count(db, MESSAGES), await count(db, AUDIT)) == (1, 1)


async def test_a_caller_that_goes_away_still_has_its_row_written(db, writer):
    db.gate = asyncio.Event()
    caller = asyncio.ensure_future(writer.record(MESSAGES, message(gateway="gone")))
    await eventually(lambda: db.writes == 1)
    caller.cancel()
    db.gate.set()
    await writer.aclose()  # waits for every queued row
    assert await count(db, MESSAGES) == 1


def test_every_audit_text_is_cut_to_its_column():
    row = audit.entry(action="a" * 100, actor="b" * 300, info="c" * 5000, client_ip="d" * 100)
    assert (len(row["action"]), len(row["actor"]), len(row["info"]), len(row["client_ip"])) == (
        64,
        255,
        2000,
        64,
    )
