"""Traffic control as shipped (the suite at large runs it quiet), and a clock the tests
move."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio
from sqlalchemy import Connection, delete

from app.runtime import Runtime
from app.traffic import repo


class Clock:
    """Seconds since the epoch, from now on moved only by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _as_shipped(tx: Connection) -> None:
    for table in (repo.RULE, repo.SETTING, repo.COUNTRY, repo.SAFE):
        tx.execute(delete(table))


@pytest_asyncio.fixture(loop_scope="session")
async def defaults(runtime: Runtime) -> Runtime:
    """Every default rule on: no stored rule or setting."""
    await runtime.db.write(lambda tx: _as_shipped(tx.connection()))
    runtime.traffic.changed()
    return runtime


@pytest_asyncio.fixture(loop_scope="session")
async def clock(runtime: Runtime) -> AsyncIterator[Clock]:
    moved = Clock()
    runtime.traffic.clock = moved
    yield moved
    runtime.traffic.clock = time.time


async def audit_rows(api: Any, action: str) -> list[dict[str, Any]]:
    page = await api.value("/audit/", params={"action": action, "pagesize": 100})
    rows: list[dict[str, Any]] = page["auditdata"]
    return rows
