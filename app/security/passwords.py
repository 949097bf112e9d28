"""Password and PIN hashing with argon2id, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's minimum for argon2id (m=19 MiB, t=2, p=1): about 20-30 ms of one core here,
# cheap enough for a login on every request, costly enough to slow offline guessing.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def hash_sync(password: str) -> str:
    return _hasher.hash(password)


def verify_sync(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    # argon2-cffi releases the GIL, so a thread runs it beside the event loop.
    return await asyncio.to_thread(hash_sync, password)


async def verify_password(hashed: str, password: str) -> bool:
    return await asyncio.to_thread(verify_sync, hashed, password)


# Verified against when a user does not exist, so timing does not reveal which do.
DUMMY_HASH = hash_sync("smsgw-dummy-password")
