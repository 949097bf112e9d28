"""Password and PIN hashing with argon2id, off the event loop.

The parameters are one of OWASP's settings of equal strength for argon2id (m=9 MiB, t=4,
p=1), the one that loses least to the rest of the service here: the 19 MiB of its
minimum-memory sibling (m=19 MiB, t=2) outgrow a core's 4 MiB cache, so beside the event
loops and the database threads each verification took 7-10 % longer than alone; with 9 MiB
it takes what it takes alone. The settings trade memory for passes, so an attacker's cost
stays; a stored hash keeps the parameters it was made with and still verifies.

Hashing runs on threads of its own, as many as the cores in a single process and cores ÷
workers in each of several worker processes (`smsgw serve --workers N` sets
SMSGW_HASH_THREADS), so the machine never runs more hashes at once than it has cores.

Two lanes, each with its own threads and its own bound on the requests waiting for them:
anonymous PIN checks (/validate) and admin logins (/auth). A flood of wrong PINs fills
only its own lane, so an admin still logs in at once, and past the bound a request is
refused with 503 and Retry-After instead of waiting behind hundreds of others.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from app.errors import Busy

# About 19 ms of one core here: cheap enough for a login on every request, costly enough
# to slow offline guessing.
MEMORY_KIB, PASSES = 9 * 1024, 4
_hasher = PasswordHasher(time_cost=PASSES, memory_cost=MEMORY_KIB, parallelism=1)
# Hashing threads yield to the event loop and the database threads, so a burst of logins
# delays other requests by little more than their own share of the CPU.
_NICENESS = 5

Lane = Literal["pin", "admin"]
_threads: dict[Lane, ThreadPoolExecutor] = {}
_thread_count = os.cpu_count() or 1
# Admin logins are rare: one thread of their own keeps them off the PIN checks' queue.
_ADMIN_THREADS = 1
_limits: dict[Lane, int] = {"pin": 128, "admin": 32}
_in_flight: dict[Lane, int] = {"pin": 0, "admin": 0}
BUSY_EXAMPLE = "Too many logins are being checked; try again in a second"


def hash_sync(password: str) -> str:
    return _hasher.hash(password)


def verify_sync(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(hashed: str) -> bool:
    """Whether a stored hash was made with other parameters than today's. Rehashed at the
    next right password: a stored hash that costs more or less than the dummy hash of an
    unknown user would tell, by its timing, that the user exists."""
    try:
        return _hasher.check_needs_rehash(hashed)
    except InvalidHashError:
        return False


def use_threads(count: int) -> None:
    """How many threads hash in this process (before the first hash)."""
    global _thread_count
    _thread_count = max(1, count)


def _start_thread() -> None:
    # On Linux a thread id is a valid target of setpriority: only this thread is niced.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _NICENESS)


def limit_queue(pin: int, admin: int) -> None:
    """How many requests of each lane may wait for or use the hashing threads at once."""
    _limits["pin"], _limits["admin"] = max(1, pin), max(1, admin)


def in_flight(lane: Lane) -> int:
    """Requests of the lane admitted and not yet done."""
    return _in_flight[lane]


@contextlib.contextmanager
def admission(lane: Lane) -> Iterator[None]:
    """Hold a place in the lane's queue, or raise Busy (503) when it is full.

    Taken before a login reserves an attempt, so a refused request has counted nothing.
    """
    if _in_flight[lane] >= _limits[lane]:
        raise Busy(BUSY_EXAMPLE)
    _in_flight[lane] += 1
    try:
        yield
    finally:
        _in_flight[lane] -= 1


def _hashing_threads(lane: Lane = "pin") -> ThreadPoolExecutor:
    # argon2-cffi releases the GIL, so these run in parallel with the event loop.
    if lane not in _threads:
        count = _thread_count if lane == "pin" else _ADMIN_THREADS
        _threads[lane] = ThreadPoolExecutor(
            count, thread_name_prefix=f"smsgw-argon2-{lane}", initializer=_start_thread
        )
    return _threads[lane]


async def hash_password(password: str, lane: Lane = "admin") -> str:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing_threads(lane), hash_sync, password)


async def verify_password(hashed: str, password: str, lane: Lane = "pin") -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_hashing_threads(lane), verify_sync, hashed, password)


# Verified against when a user does not exist, so timing does not reveal which do.
DUMMY_HASH = hash_sync("smsgw-dummy-password")
