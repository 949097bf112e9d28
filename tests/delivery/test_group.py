"""Group commit: concurrent outbox writes share a transaction; one failing write fails
alone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import insert, select

from app.db.tables import ConfigEntry
from app.delivery.group import GroupCommit

CONFIG = ConfigEntry.__table__


async def test_a_failing_write_reaches_only_its_own_caller(runtime):
    group = GroupCommit(runtime.db)

    def add(key: str):
        return lambda tx: tx.execute(insert(CONFIG).values(key=key, value="v")).rowcount

    def broken(tx):
        raise ValueError("this write is wrong")

    try:
        results = await asyncio.gather(
            group.run(add("a")), group.run(broken), group.run(add("b")), return_exceptions=True
        )
    finally:
        await group.aclose()
    assert results[0] == 1 and results[2] == 1
    assert isinstance(results[1], ValueError)
    keys = sorted(
        await runtime.db.read(lambda tx: tx.execute(select(CONFIG.c.key)).scalars().all())
    )
    assert keys == ["a", "b"]


async def test_a_write_that_raises_alone_raises_to_its_caller(runtime):
    group = GroupCommit(runtime.db)

    def broken(tx):
        raise ValueError("alone")

    try:
        with pytest.raises(ValueError, match="alone"):
            await group.run(broken)
    finally:
        await group.aclose()
