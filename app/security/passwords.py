"""Password and PIN hashing with argon2id, off the event loop.

argon2 is memory-hard: each computation walks 19 MiB. Run more of them at once than there
are cores and they only evict each other from the caches: measured here, 25 ms of CPU per
verification with one thread per core in one process, 29 ms with two threads per core or
with the threads of two processes taking turns for the cores. So hashing runs on a few
threads of its own: as many as the cores in a single process, and cores ÷ workers in each
of several worker processes (`smsgw serve --workers N` sets SMSGW_HASH_THREADS).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum for argon2id (m=19 MiB, t=2, p=1): about 25 ms of one core here, cheap
# enough for a login on every request, costly enough to slow offline guessing.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Hashing threads yield to the event loop and the database threads, so a burst of logins
# delays other requests by little more than their own share of the CPU.
_NICENESS = 5

_threads: ThreadPoolExecutor | None = None
_thread_count = os.cpu_count() or 1


def hash_sync(password: str) -> str:
    return _hasher.hash(password)


def verify_sync(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def use_threads(count: int) -> None:
    """How many threads hash in this process (before the first hash)."""
    global _thread_count
    _thread_count = max(1, count)


def _start_thread() -> None:
    # On Linux a thread id is a valid target of setpriority: only this thread is niced.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICENESS)


def _hashing_threads() -> ThreadPoolExecutor:
    # argon2-cffi releases the GIL, so these run in parallel with the event loop.
    global _threads
    if _threads is None:
        _threads = ThreadPoolExecutor(
            _thread_count, thread_name_prefix="smsgw-argon2", initializer=_start_thread
        )
    return _threads


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hashing_threads(), hash_sync, password)


async def verify_password(hashed: str, password: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing_threads(), verify_sync, hashed, password)


# Verified against when a user does not exist, so timing does not reveal which do.
DUMMY_HASH = hash_sync("smsgw-dummy-password")
