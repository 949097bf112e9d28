"""Live provider instances, one per gateway definition, rebuilt when the definition changes.

Providers keep connections (an HTTP pool, an SMPP bind), so they are built once and reused.
A send leases its instance; a changed or deleted definition retires the old instance, which
is closed only when its last in-flight send has finished, and after whatever those sends
left running (a background script) has ended too: an edit never cuts a send short.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from providers.base import Provider, ProviderContext
from providers.registry import registry

log = logging.getLogger("smsgw.providers")


@dataclass(frozen=True)
class GatewayConfig:
    """A gateway definition with its secrets decrypted, ready to build a provider."""

    id: int
    name: str
    module: str
    options: dict[str, str]
    headers: dict[str, str]
    updated_at: datetime
    dlr_token: str = ""  # the hash of its delivery report token; "" when it has none


@dataclass(eq=False)
class _Entry:
    version: datetime
    provider: Provider[Any]
    leases: int = 0
    retired: bool = False
    listener: asyncio.Task[None] | None = None  # listen(), for a provider that gets receipts


class ProviderPool:
    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self._live: dict[int, _Entry] = {}
        self._closing: dict[asyncio.Task[None], Provider[Any]] = {}
        self._listeners: set[asyncio.Task[None]] = set()  # every listen() still running

    def _build(self, config: GatewayConfig) -> Provider[Any]:
        # Each instance knows the gateway it serves: its delivery reports name it.
        context = replace(self.context, gateway=config.name)
        options = registry.validate(config.module, config.options, context)
        return registry.resolve(config.module)(options, config.headers, context)

    def version_of(self, gateway_id: int) -> datetime | None:
        entry = self._live.get(gateway_id)
        return None if entry is None else entry.version

    def ensure(self, config: GatewayConfig) -> Provider[Any]:
        """The live instance for the definition, built (and listening, if it receives
        delivery reports) unless it already is."""
        entry = self._live.get(config.id)
        if entry is None or entry.version != config.updated_at:
            if entry is not None:
                self._retire(entry)
            entry = _Entry(config.updated_at, self._build(config))
            if entry.provider.receives_receipts:
                entry.listener = asyncio.get_running_loop().create_task(
                    _listen(entry.provider, config.name), name=f"smsgw-listen-{config.name}"
                )
                self._listeners.add(entry.listener)
                entry.listener.add_done_callback(self._listeners.discard)
            self._live[config.id] = entry
        return entry.provider

    def live_ids(self) -> set[int]:
        return set(self._live)

    def listening(self) -> list[str]:
        """The gateways whose provider is kept listening for delivery reports."""
        return sorted(
            e.provider.context.gateway
            for e in self._live.values()
            if e.listener is not None and not e.listener.done()
        )

    @asynccontextmanager
    async def lease(self, config: GatewayConfig) -> AsyncIterator[Provider[Any]]:
        self.ensure(config)
        entry = self._live[config.id]
        entry.leases += 1
        try:
            yield entry.provider
        finally:
            entry.leases -= 1
            if entry.retired and entry.leases == 0:
                self._close_later(entry)

    def forget(self, gateway_id: int) -> None:
        """The definition is gone: close its provider once idle."""
        entry = self._live.pop(gateway_id, None)
        if entry is not None:
            self._retire(entry)

    def _retire(self, entry: _Entry) -> None:
        # It keeps listening until it closes: sends still in flight may share its session.
        entry.retired = True
        if entry.leases == 0:
            self._close_later(entry)

    def _close_later(self, entry: _Entry) -> None:
        task = asyncio.get_running_loop().create_task(_drain_and_close(entry))
        self._closing[task] = entry.provider
        task.add_done_callback(lambda done: self._closing.pop(done, None))

    async def aclose(self) -> None:
        """Shut down: providers still draining are stopped now, and their runs logged failed."""
        entries, self._live = list(self._live.values()), {}
        listeners = list(self._listeners)
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        closing = dict(self._closing)
        for task in closing:
            task.cancel()
        await asyncio.gather(*closing, return_exceptions=True)
        # A drain cancelled before it began never reached its own aclose: close them here.
        providers = [e.provider for e in entries] + list(closing.values())
        await asyncio.gather(*(p.aclose() for p in providers), return_exceptions=True)


async def _drain_and_close(entry: _Entry) -> None:
    try:
        await entry.provider.drain()
    finally:  # also when shutdown cancels the drain
        await entry.provider.aclose()
        # aclose ends listen() by contract; a provider that forgot is stopped here.
        _stop_listening(entry)


def _stop_listening(entry: _Entry) -> None:
    if entry.listener is not None:
        entry.listener.cancel()


async def _listen(provider: Provider[Any], gateway: str) -> None:
    """Keep the provider's report connection; a failure is logged, never raised into
    the event loop's void."""
    try:
        await provider.listen()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("%s: listening for delivery reports failed: %s", gateway, type(exc).__name__)
