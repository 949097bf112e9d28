"""Engines and the transaction helpers every service uses.

Three ways in: `transaction()`/`reading()` give an AsyncSession (admin paths); `write(fn)`/
`read(fn)` run a plain function on a Session in one go (the message log, the audit trail);
`write_sql(fn)`/`read_sql(fn)` run it on a Core Connection (logins, where every request
counts). On SQLite the last two kinds run in a thread on a pysqlite engine: SQLAlchemy's
aiosqlite adapter hops threads for every cursor call, about 2 ms of CPU per transaction
here, where a whole transaction in one thread hop costs about 0.4 ms on a Session and
about 0.2 ms on a Connection, which skips the ORM's unit of work and identity map.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
_LOCK_WAIT_SECONDS = 30


def _sqlite_engine(url: str, *, immediate: bool) -> AsyncEngine:
    engine = create_async_engine(
        url, connect_args={"timeout": 30}, pool_size=10, max_overflow=20, pool_timeout=60
    )
    _configure_sqlite(engine.sync_engine, immediate=immediate)
    return engine


def _sqlite_sync_engine(url: str, *, immediate: bool) -> Engine:
    engine = create_engine(
        url.replace("sqlite+aiosqlite:", "sqlite:", 1),
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=8,
        max_overflow=8,
        pool_reset_on_return=None,  # every use ends in commit or rollback already
    )
    _configure_sqlite(engine, immediate=immediate, poll_lock=immediate)
    return engine


def _begin_polling(connection: Any) -> None:
    """BEGIN IMMEDIATE, retried every fraction of a millisecond while another process holds
    the write lock: SQLite's own busy handler sleeps 1, 2, 5, 10... 100 ms between tries,
    which adds tens of milliseconds to every write when two workers share the database."""
    deadline = time.monotonic() + _LOCK_WAIT_SECONDS
    while True:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(random.uniform(0.0002, 0.001))


def _configure_sqlite(engine: Engine, *, immediate: bool, poll_lock: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how a transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        busy_ms = 0 if poll_lock else _LOCK_WAIT_SECONDS * 1000
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock up front: a deferred one that upgrades
        # later fails at once with "database is locked" when another writer got there first.
        if poll_lock:
            _begin_polling(connection)
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """The write and read paths. On PostgreSQL both share one engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self._sync_writer: sessionmaker[Session] | None = None
        self._sync_reader: sessionmaker[Session] | None = None
        self._write_engine: Engine | None = None
        self._read_engine: Engine | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._writer_file: int | None = None
        if self.is_sqlite:
            path = make_url(url).database
            if path and path != ":memory:":
                self._writer_file = os.open(f"{path}-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
            self.engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
            self._write_engine = _sqlite_sync_engine(url, immediate=True)
            self._read_engine = _sqlite_sync_engine(url, immediate=False)
            self._sync_writer = sessionmaker(self._write_engine, expire_on_commit=False)
            self._sync_reader = sessionmaker(self._read_engine, expire_on_commit=False)
            self._threads = ThreadPoolExecutor(8, thread_name_prefix="smsgw-db")
        else:
            self.engine = create_async_engine(
                url, pool_size=20, max_overflow=30, pool_timeout=60, pool_pre_ping=True
            )
            self.read_engine = self.engine
        # SQLite has one writer at a time. Queuing this process's writers on an asyncio lock
        # beats letting them collide in SQLite's busy handler, which sleeps up to 100 ms.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False)
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit on exit, roll back on any error: a failure writes nothing."""
        if self._write_lock is None:
            async with self._writer.begin() as session:
                yield session
            return
        async with self._write_lock, self._writer.begin() as session:
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self._reader.begin() as session:
            yield session

    async def write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in one write transaction; commit if it returns, roll back if it raises."""
        if self._sync_writer is None:
            async with self._writer.begin() as session:
                return await session.run_sync(work)
        assert self._write_lock is not None
        maker = self._sync_writer

        def run() -> T:
            with self._writers_turn(), maker.begin() as session:
                return work(session)

        async with self._write_lock:
            return await self._on_thread(run)

    async def read(self, work: Callable[[Session], T]) -> T:
        if self._sync_reader is None:
            async with self._reader.begin() as session:
                return await session.run_sync(work)
        return await self._in_thread(self._sync_reader, work)

    async def write_sql(self, work: Callable[[Connection], T]) -> T:
        """Like `write`, on a Core Connection."""
        if self._write_engine is None:
            async with self.engine.begin() as connection:
                return await connection.run_sync(work)
        assert self._write_lock is not None
        engine = self._write_engine

        def run() -> T:
            with self._writers_turn():
                return _in_transaction(engine, work)

        async with self._write_lock:
            return await self._on_thread(run)

    async def read_sql(self, work: Callable[[Connection], T]) -> T:
        """Like `read`, on a Core Connection."""
        if self._read_engine is None:
            async with self.read_engine.begin() as connection:
                return await connection.run_sync(work)
        engine = self._read_engine
        return await self._on_thread(lambda: _in_transaction(engine, work))

    async def _in_thread(self, maker: sessionmaker[Session], work: Callable[[Session], T]) -> T:
        def run() -> T:
            with maker.begin() as session:
                return work(session)

        return await self._on_thread(run)

    @contextmanager
    def _writers_turn(self) -> Iterator[None]:
        """Wait for this process's turn to write, among the processes sharing the file.

        SQLite lets one writer in at a time and a refused writer can only retry later; the
        processes serving one database first queue on an flock of a file beside it, which
        wakes the next one the moment the lock is free. Writers that skip it (the CLI, an
        admin's AsyncSession) still get in through BEGIN IMMEDIATE's retries.
        """
        if self._writer_file is None:
            yield
            return
        fcntl.flock(self._writer_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._writer_file, fcntl.LOCK_UN)

    async def _on_thread(self, run: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, run)

    async def dispose(self) -> None:
        for engine in (self._write_engine, self._read_engine):
            if engine is not None:
                engine.dispose()
        if self._writer_file is not None:
            os.close(self._writer_file)
            self._writer_file = None
        if self._threads is not None:
            self._threads.shutdown(wait=False)
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def _in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    with engine.begin() as connection:
        return work(connection)
