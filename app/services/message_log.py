"""Writes message-log rows in batches: one transaction for every send that finished
meanwhile, instead of one each. A send still waits until its row is committed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from app.db import message_repo
from app.db.engine import Database

log = logging.getLogger("smsgw.message_log")
_MAX_BATCH = 500


class MessageLogWriter:
    def __init__(self, db: Database) -> None:
        self.db = db
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
            ids = await self.db.write(lambda tx: message_repo.add_all(tx, entries))
        except Exception as exc:
            log.error("message log write failed: %s", exc)
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, done), row_id in zip(batch, ids, strict=True):
            if not done.done():
                done.set_result(row_id)

    async def aclose(self) -> None:
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
