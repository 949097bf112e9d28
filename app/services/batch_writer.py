"""Append-only rows written in batches: one transaction for every row that arrived
meanwhile, instead of one each, whichever table it goes to.

Used for the rows every send and every login writes: the message log and the audit trail.
A caller awaiting `record` or `record_together` waits until its rows are committed; rows
given to one `record_together` call always share a transaction.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from sqlalchemy import Insert, Table, insert
from sqlalchemy.orm import Session

from app import stopping
from app.db.engine import Database

log = logging.getLogger("smsgw.batch_writer")
_MAX_BATCH = 500  # rows; a group of rows is never split, so a batch may pass it by one group

Row = tuple[Table, dict[str, Any]]
Group = tuple[list[Row], asyncio.Future[list[int]]]


class BatchWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._statements: dict[str, Insert] = {}
        self._queue: asyncio.Queue[Group] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def record(self, table: Table, row: dict[str, Any]) -> int:
        """Write the row; its id once it is committed."""
        return (await self.record_together([(table, row)]))[0]

    async def record_together(self, rows: list[Row]) -> list[int]:
        """Write the rows in one transaction; their ids, in order, once it is committed."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((rows, done))
        # Shielded: a caller that goes away (a client hanging up) still has its rows written.
        return await asyncio.shield(done)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            size = len(batch[0][0])
            while not self._queue.empty() and size < _MAX_BATCH:
                batch.append(self._queue.get_nowait())
                size += len(batch[-1][0])
            await self._write(batch)
            for _ in batch:
                self._queue.task_done()

    async def _write(self, batch: list[Group]) -> None:
        rows = [row for group, _ in batch for row in group]
        try:
            ids = await self.db.write(lambda tx: self._insert(tx, rows))
        except Exception as exc:
            tables = sorted({table.name for table, _ in rows})
            log.error("batch write to %s failed: %s", ", ".join(tables), exc)
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        start = 0
        for group, done in batch:
            if not done.done():
                done.set_result(ids[start : start + len(group)])
            start += len(group)

    def _insert(self, tx: Session, rows: list[Row]) -> list[int]:
        # Core inserts, one executemany per run of rows for the same table.
        connection = tx.connection()
        ids: list[int] = []
        for table, run in itertools.groupby(rows, key=lambda row: row[0]):
            values = [entry for _, entry in run]
            result = connection.execute(self._statement(table), values)
            ids += [int(row_id) for row_id in result.scalars()]
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
            await stopping.stop(self._task)
            self._task = None
