"""The one way into the database: `await db.write(work)` or `await db.read(work)` runs
`work(tx)` in one transaction on a SQLAlchemy `Session` and returns what it returns;
it commits if `work` returns and rolls back if it raises, so a failure writes nothing.

`work` is a plain function: repositories run ORM queries on `tx`, Core statements on
`tx.connection()`, or, where every request counts, prebuilt statements on the driver's
cursor of that same connection (app/db/prepared.py, used by app/db/login_repo.py).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

T = TypeVar("T")
Work = Callable[[Session], T]
_LOCK_WAIT_MS = 30_000


class Database(ABC):
    """A database whatever its dialect: `connect(url)` picks the implementation."""

    url: str
    dialect: str

    @abstractmethod
    async def write(self, work: Work[T]) -> T:
        """Run `work` in a write transaction: commit if it returns, roll back if it raises."""

    @abstractmethod
    async def read(self, work: Work[T]) -> T:
        """Run `work` in a transaction that is not expected to write."""

    @abstractmethod
    async def dispose(self) -> None: ...


def connect(url: str) -> Database:
    return SqliteDatabase(url) if url.startswith("sqlite") else AsyncDatabase(url)


class AsyncDatabase(Database):
    """PostgreSQL (asyncpg): `work` runs on the event loop, through an AsyncSession."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        self._engine = create_async_engine(
            url, pool_size=20, max_overflow=30, pool_timeout=60, pool_pre_ping=True
        )
        self._sessions = async_sessionmaker(self._engine, expire_on_commit=False)

    async def write(self, work: Work[T]) -> T:
        async with self._sessions.begin() as session:
            return await session.run_sync(work)

    async def read(self, work: Work[T]) -> T:
        return await self.write(work)

    async def dispose(self) -> None:
        await self._engine.dispose()


class SqliteDatabase(Database):
    """SQLite: the same transactions, on pysqlite in a thread, one writer at a time.

    Why each piece:
    - pysqlite in a thread pool, not aiosqlite: aiosqlite hops threads for every cursor
      call (about 2 ms of CPU per transaction here); a whole transaction in one hop costs
      about 0.3 ms.
    - Two engines: writes start with BEGIN IMMEDIATE, which takes the write lock up front
      (a deferred transaction that upgrades later fails at once with "database is locked"
      when another writer got there first); reads start with a plain BEGIN and, in WAL
      mode, never wait for a writer.
    - An asyncio.Lock: this process's writers queue without holding a thread each.
    - An flock on a file beside the database: the processes sharing the file queue on it,
      and the kernel wakes the next one the moment the lock is released (SQLite's busy
      handler would sleep 1, 2, 5 ... 100 ms between tries).
    - busy_timeout: a writer outside the queue (the CLI, a migration) is waited for.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.dialect = "sqlite"
        path = make_url(url).database
        self._turns: int | None = None
        if path and path != ":memory:":
            self._turns = os.open(f"{path}-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
        sync_url = url.replace("sqlite+aiosqlite:", "sqlite:", 1)
        self._writer = _sqlite_engine(sync_url, "BEGIN IMMEDIATE", pool_size=1)
        self._reader = _sqlite_engine(sync_url, "BEGIN", pool_size=8)
        self._threads = ThreadPoolExecutor(8, thread_name_prefix="smsgw-db")
        self._write_lock = asyncio.Lock()

    async def write(self, work: Work[T]) -> T:
        def run() -> T:
            if self._turns is not None:
                fcntl.flock(self._turns, fcntl.LOCK_EX)
            try:
                return _in_transaction(self._writer, work)
            finally:
                if self._turns is not None:
                    fcntl.flock(self._turns, fcntl.LOCK_UN)

        async with self._write_lock:
            return await asyncio.get_running_loop().run_in_executor(self._threads, run)

    async def read(self, work: Work[T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, _in_transaction, self._reader, work
        )

    async def dispose(self) -> None:
        self._writer.dispose()
        self._reader.dispose()
        self._threads.shutdown(wait=False)
        if self._turns is not None:
            os.close(self._turns)
            self._turns = None


def _in_transaction(engine: Engine, work: Work[T]) -> T:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        return work(session)


def _sqlite_engine(url: str, begin: str, *, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=pool_size,
        max_overflow=8,
        pool_reset_on_return=None,  # every use ends in commit or rollback already
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the "begin" event below starts transactions
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.execute(f"PRAGMA busy_timeout={_LOCK_WAIT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # On the driver: SQLAlchemy's execution path would double what a BEGIN costs.
        connection.connection.driver_connection.execute(begin)

    return engine
