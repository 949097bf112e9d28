"""What traffic control keeps per process: the clock, the cached rules, the limiters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.services.cache import TtlCache
from app.traffic import repo
from app.traffic.settings import Policy, RuleIn

if TYPE_CHECKING:
    from app.db.engine import Database
    from app.traffic.gateway_limits import Limits

PURGE_EVERY = 60.0  # seconds between purges of ended counters by one process


class Traffic:
    def __init__(self, db: Database, cache_seconds: float) -> None:
        self.db = db
        # Seconds since the epoch; tests put a clock of their own here.
        self.clock: Callable[[], float] = time.time
        self._policy: TtlCache[str, tuple[list[RuleIn], Policy]] = TtlCache(cache_seconds)
        self.limits: TtlCache[str, Limits] = TtlCache(cache_seconds)
        # Concurrency is held per process: a semaphore per gateway and its size.
        self.semaphores: dict[str, tuple[int, asyncio.Semaphore]] = {}
        self._next_purge = 0.0

    async def policy(self) -> Policy:
        return (await self._policy.get("policy", self._load))[1]

    async def stored_rules(self) -> list[RuleIn]:
        return (await self._policy.get("policy", self._load))[0]

    async def _load(self) -> tuple[list[RuleIn], Policy]:
        return await self.db.read(lambda tx: repo.load_policy(tx.connection()))

    def changed(self) -> None:
        """This process wrote the rules: use them at once (others within the cache time)."""
        self._policy.clear()
        self.limits.clear()

    def purge_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_purge:
            return False
        self._next_purge = now + PURGE_EVERY
        return True
