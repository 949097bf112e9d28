"""Group commit: the writes of concurrent sends and logins share one transaction.

Every send writes at least twice (admitted, final), every login once or twice, and SQLite
lets one writer in at a time; committing the writes that arrived meanwhile together costs
one commit instead of one each. A batch that fails is rolled back whole and its writes run
again one by one, so one write's error (a duplicate Idempotency-Key) reaches only its own
caller; a write that expects to be refused (traffic control) returns the refusal instead
of raising it, so it does not cost the others a second run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from app import stopping
from app.db.engine import Database

log = logging.getLogger("smsgw.delivery")
T = TypeVar("T")
_MAX_BATCH = 200
Work = tuple[Callable[[Session], Any], asyncio.Future[Any]]


class GroupCommit:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._queue: asyncio.Queue[Work] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a write transaction shared with other writes; its result once
        committed. It may run twice (after a batch's rollback): it must have no effect
        outside the transaction."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((work, done))
        return await asyncio.shield(done)

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
        await stopping.stop(self._task)
        self._task = None
