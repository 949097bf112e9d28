"""Exclusive locks that the operating system or the database releases when their holder
dies: PostgreSQL session advisory locks, or flock on a file beside the SQLite database."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import asyncpg


class DeviceLocks(Protocol):
    async def try_acquire(self, device: str) -> bool: ...
    async def release(self, device: str) -> None: ...
    def alive(self) -> bool: ...
    async def close(self) -> None: ...


def lock_key(device: str) -> int:
    """A stable signed 64-bit key for pg_try_advisory_lock."""
    return int.from_bytes(hashlib.sha256(device.encode()).digest()[:8], "big", signed=True)


class AdvisoryLocks:
    """Session advisory locks on one connection of their own: if the process dies, or loses
    that connection, PostgreSQL releases every lock it held."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._connection: asyncpg.Connection | None = None

    async def _connected(self) -> asyncpg.Connection:
        import asyncpg

        if self._connection is None or self._connection.is_closed():
            self._connection = await asyncpg.connect(self.dsn)
        return self._connection

    async def try_acquire(self, device: str) -> bool:
        connection = await self._connected()
        return bool(await connection.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(device)))

    async def release(self, device: str) -> None:
        if self.alive():
            assert self._connection is not None
            await self._connection.execute("SELECT pg_advisory_unlock($1)", lock_key(device))

    def alive(self) -> bool:
        return self._connection is not None and not self._connection.is_closed()

    async def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
            self._connection = None


class FileLocks:
    """flock on a file per device beside the database: the kernel drops it with the process."""

    def __init__(self, directory: Path, stem: str) -> None:
        self.directory, self.stem = directory, stem
        self._files: dict[str, int] = {}

    def _path(self, device: str) -> Path:
        digest = hashlib.sha256(device.encode()).hexdigest()[:16]
        return self.directory / f"{self.stem}-modem-{digest}.lock"

    async def try_acquire(self, device: str) -> bool:
        if device in self._files:
            return True
        descriptor = os.open(self._path(device), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            return False
        self._files[device] = descriptor
        return True

    async def release(self, device: str) -> None:
        descriptor = self._files.pop(device, None)
        if descriptor is not None:
            os.close(descriptor)  # closing the last descriptor releases the flock

    def alive(self) -> bool:
        return True

    async def close(self) -> None:
        for device in list(self._files):
            await self.release(device)
