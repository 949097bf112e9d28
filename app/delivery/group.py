"""Group commit: the outbox writes of concurrent sends share one transaction.

Every send writes at least twice (admitted, final), and SQLite lets one writer in at a
time; committing the writes that arrived meanwhile together costs one commit instead of
one each. A batch that fails is rolled back whole and its writes run again one by one, so
one write's error (a duplicate Idempotency-Key) reaches only its own caller.

PostgreSQL takes concurrent writers, and there each statement is a round trip to the
server: one batch at a time would queue every send of the process behind those round
trips. So batches go out on several connections at once there (`lanes`); on SQLite, one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from app.db.engine import Database

log = logging.getLogger("smsgw.delivery")
T = TypeVar("T")
_MAX_BATCH = 200
POSTGRES_LANES = 8
Work = tuple[Callable[[Session], Any], asyncio.Future[Any]]


def lanes_for(db: Database) -> int:
    return 1 if db.url.startswith("sqlite") else POSTGRES_LANES


class GroupCommit:
    def __init__(self, db: Database, lanes: int | None = None) -> None:
        self.db = db
        self.lanes = lanes if lanes is not None else lanes_for(db)
        self._queue: asyncio.Queue[Work] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a write transaction shared with other writes; its result once
        committed. It may run twice (after a batch's rollback): it must only write."""
        if len(self._tasks) < self.lanes or any(task.done() for task in self._tasks):
            self._start_lanes()
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((work, done))
        return await asyncio.shield(done)

    def _start_lanes(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [task for task in self._tasks if not task.done()]
        while len(self._tasks) < self.lanes:
            self._tasks.append(loop.create_task(self._drain()))

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < _MAX_BATCH:
                batch.append(self._queue.get_nowait())
            await self._commit(batch)

    async def _commit(self, batch: list[Work]) -> None:
        if len(batch) > 1:
            try:
                results = await self.db.write(lambda tx: [work(tx) for work, _ in batch])
            except Exception as exc:
                # Retried one by one below: only the write that failed reports it.
                log.debug("a batch of %s outbox writes rolled back: %r", len(batch), exc)
            else:
                for (_, done), result in zip(batch, results, strict=True):
                    if not done.done():
                        done.set_result(result)
                return
        for work, done in batch:
            try:
                result = await self.db.write(work)
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
            else:
                if not done.done():
                    done.set_result(result)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
