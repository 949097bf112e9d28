"""Password and PIN hashing with argon2id, off the event loop.

argon2 is memory-hard: each computation walks 19 MiB. Run more of them at once than there
are cores and they only evict each other from the caches (measured here: 25 ms of CPU per
verification with one per core, 29 ms with two per core). So each process hashes on one
thread per core, and worker processes that share a data directory also share one lock file
per core: at most one computation per core runs on the machine, whichever worker asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum for argon2id (m=19 MiB, t=2, p=1): about 25 ms of one core here, cheap
# enough for a login on every request, costly enough to slow offline guessing.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_CORES = os.cpu_count() or 1
# Hashing threads yield to the event loop and the database threads, so a burst of logins
# delays other requests by little more than their own share of the CPU.
_NICENESS = 5

R = TypeVar("R")
_slot_dir: Path | None = None
_thread_numbers = itertools.count()
_local = threading.local()


def hash_sync(password: str) -> str:
    return _hasher.hash(password)


def verify_sync(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def share_cores_through(directory: Path) -> None:
    """Make every process hashing with this directory take turns for the machine's cores."""
    global _slot_dir
    directory.mkdir(parents=True, exist_ok=True)
    _slot_dir = directory


def _start_thread() -> None:
    _local.slot = next(_thread_numbers) % _CORES
    # On Linux a thread id is a valid target of setpriority: only this thread is niced.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICENESS)


def _in_slot(work: Callable[..., R], *args: str) -> R:
    if _slot_dir is None:
        return work(*args)
    descriptor = getattr(_local, "descriptor", None)
    if descriptor is None:
        # flock excludes open files, not processes: each thread needs its own descriptor.
        path = _slot_dir / f"argon2-core-{_local.slot}.lock"
        descriptor = _local.descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        return work(*args)
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)


@cache
def _hashing_threads() -> ThreadPoolExecutor:
    # argon2-cffi releases the GIL, so these run in parallel with the event loop.
    return ThreadPoolExecutor(_CORES, thread_name_prefix="smsgw-argon2", initializer=_start_thread)


async def hash_password(password: str) -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing_threads(), _in_slot, hash_sync, password)


async def verify_password(hashed: str, password: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing_threads(), _in_slot, verify_sync, hashed, password)


# Verified against when a user does not exist, so timing does not reveal which do.
DUMMY_HASH = hash_sync("smsgw-dummy-password")
