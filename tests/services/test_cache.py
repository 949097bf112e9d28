"""The per-worker cache: one load for every caller that misses meanwhile, failures not
kept, a write in this process clears it at once."""

from __future__ import annotations

import asyncio

import pytest

from app.errors import NotFound
from app.services.cache import TtlCache
from tests.waiting import eventually


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.fail = False

    async def __call__(self) -> str:
        self.calls += 1
        await self.gate.wait()
        if self.fail:
            raise NotFound("gone")
        return f"value {self.calls}"


async def test_callers_that_miss_together_share_one_load():
    cache: TtlCache[str, str] = TtlCache(ttl=3600)
    load = Loader()
    readers = asyncio.gather(*(cache.get("gw1", load) for _ in range(10)))
    await eventually(lambda: load.calls == 1)
    load.gate.set()
    assert await readers == ["value 1"] * 10
    assert await cache.get("gw1", load) == "value 1"
    assert load.calls == 1


async def test_a_value_is_loaded_again_once_it_is_older_than_the_ttl():
    cache: TtlCache[str, str] = TtlCache(ttl=0)
    load = Loader()
    load.gate.set()
    assert [await cache.get("gw1", load), await cache.get("gw1", load)] == ["value 1", "value 2"]


async def test_a_failed_load_is_not_kept():
    cache: TtlCache[str, str] = TtlCache(ttl=3600)
    load = Loader()
    load.gate.set()
    load.fail = True
    with pytest.raises(NotFound):
        await cache.get("gw1", load)
    load.fail = False
    assert await cache.get("gw1", load) == "value 2"


async def test_clearing_a_key_makes_the_next_read_load_it():
    cache: TtlCache[str, str] = TtlCache(ttl=3600)
    load = Loader()
    load.gate.set()
    await cache.get("gw1", load)
    await cache.get("gw2", load)
    cache.clear("gw1")
    assert await cache.get("gw1", load) == "value 3"
    assert await cache.get("gw2", load) == "value 2"
    cache.clear()
    assert await cache.get("gw2", load) == "value 4"
