"""A short-lived read-through cache for definitions read on every request.

The database stays the truth: a write in this process clears the entry at once, and a
write by another worker or host is seen within `ttl` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[K, tuple[float, asyncio.Future[V]]] = {}

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value, or one load shared by every caller that missed meanwhile."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None:
            expires, future = entry
            if not future.done():  # a load under way: every caller that missed shares it
                return await asyncio.shield(future)
            if expires > now:
                return future.result()
        loading: asyncio.Future[V] = asyncio.ensure_future(load())
        self._entries[key] = (now + self.ttl, loading)
        try:
            return await asyncio.shield(loading)
        except BaseException:
            # Failures (NotFound, a dropped connection) are not cached.
            if self._entries.get(key, (0.0, None))[1] is loading:
                del self._entries[key]
            raise

    def clear(self, key: K | None = None) -> None:
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
