"""Append-only rows written in batches: one transaction for every row that arrived
meanwhile, instead of one each, whichever table it goes to.

Used for the rows every send and every login writes: the message log and the audit trail.
A caller awaiting `record` waits until its row is committed. Batches are written one after
another in the order the rows came, so once a row is committed every row queued before it
is too: a login queues its message-log row without waiting and then awaits its audit row,
and both usually share one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from typing import Any

from sqlalchemy import Connection, Insert, Table, insert

from app.db.engine import Database

log = logging.getLogger("smsgw.batch_writer")
_MAX_BATCH = 500

Item = tuple[Table, dict[str, Any], asyncio.Future[int]]


class BatchWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._statements: dict[str, Insert] = {}
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def queue(self, table: Table, entry: dict[str, Any]) -> asyncio.Future[int]:
        """Queue the row; the future gives its id once it is committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((table, entry, done))
        return done

    async def record(self, table: Table, entry: dict[str, Any]) -> int:
        """Queue the row and return its id once it is committed."""
        return await asyncio.shield(self.queue(table, entry))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty() and len(batch) < _MAX_BATCH:
                batch.append(self._queue.get_nowait())
            await self._write(batch)
            for _ in batch:
                self._queue.task_done()

    async def _write(self, batch: list[Item]) -> None:
        try:
            ids = await self.db.write_sql(lambda tx: self._insert(tx, batch))
        except Exception as exc:
            tables = sorted({table.name for table, _, _ in batch})
            log.error("batch write to %s failed: %s", ", ".join(tables), exc)
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, _, done), row_id in zip(batch, ids, strict=True):
            if not done.done():
                done.set_result(row_id)

    def _insert(self, tx: Connection, batch: list[Item]) -> list[int]:
        # Core inserts on a Connection, one per run of rows for the same table.
        ids: list[int] = []
        for table, items in itertools.groupby(batch, key=lambda item: item[0]):
            rows = [entry for _, entry, _ in items]
            ids += [int(row_id) for row_id in tx.execute(self._statement(table), rows).scalars()]
        return ids

    def _statement(self, table: Table) -> Insert:
        if table.name not in self._statements:
            self._statements[table.name] = insert(table).returning(
                table.c.id, sort_by_parameter_order=True
            )
        return self._statements[table.name]

    async def aclose(self) -> None:
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
