"""Wait on a condition, never on the clock: a loaded machine turns `sleep(0.05)` into a
flake, and an elapsed-time assert into a false alarm."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Return once `check()` is true; fail if it is not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not _checked(check()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def _checked(result: object) -> bool:
    # A coroutine is truthy: `eventually(async_check)` would pass at once without checking.
    if inspect.isawaitable(result):
        raise TypeError("the condition must be awaited: use eventually_async")
    return bool(result)


async def eventually_async(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """`eventually` for a condition that must itself be awaited (an API read)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def eventually_sync(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """`eventually` for tests that watch other processes without an event loop."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
