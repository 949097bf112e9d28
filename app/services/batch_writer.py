"""Append-only rows written in batches: one transaction for every row that arrived
meanwhile, instead of one each. A caller still waits until its row is committed.

Used for the rows every send and every login writes: the message log and the audit trail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy import Connection, Table, insert

from app.db.engine import Database

log = logging.getLogger("smsgw.batch_writer")
_MAX_BATCH = 500


class BatchWriter:
    def __init__(self, db: Database, table: Table) -> None:
        self.db = db
        self.table = table
        self._statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[int]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def record(self, entry: dict[str, Any]) -> int:
        """Queue the row and return its id once it is committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((entry, done))
        return await asyncio.shield(done)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < _MAX_BATCH:
                batch.append(self._queue.get_nowait())
            await self._write(batch)
            for _ in batch:
                self._queue.task_done()

    async def _write(self, batch: list[tuple[dict[str, Any], asyncio.Future[int]]]) -> None:
        try:
            entries = [entry for entry, _ in batch]
            ids = await self.db.write_sql(lambda tx: self._insert(tx, entries))
        except Exception as exc:
            log.error("batch write to %s failed: %s", self.table.name, exc)
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, done), row_id in zip(batch, ids, strict=True):
            if not done.done():
                done.set_result(row_id)

    def _insert(self, tx: Connection, entries: list[dict[str, Any]]) -> list[int]:
        # A Core insert on a Connection: no ORM session, no bookkeeping per row.
        return [int(row_id) for row_id in tx.execute(self._statement, entries).scalars()]

    async def aclose(self) -> None:
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
