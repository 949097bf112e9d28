"""A listen() task per gateway whose provider receives delivery reports over its own
connection (an SMPP transceiver): started when the service starts and whenever a definition
changes, stopped when it goes or the service stops.

The provider pool owns the tasks (a definition's instance and its listener live and die
together); this module keeps the pool in step with the gateway table. Every worker listens:
an SMSC hands a receipt to any bound session, and every worker applies it the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from app.db import gateway_repo
from app.errors import NotFound
from providers.base import Provider
from providers.registry import OptionsInvalid, UnknownProvider, registry

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger("smsgw.delivery")
# Another worker's edit of a definition is seen within this many seconds (at least).
MIN_INTERVAL = 5.0


def may_listen(module: str) -> bool:
    """Whether the module's provider can receive reports at all (it overrides the default)."""
    try:
        cls = registry.resolve(module)
    except UnknownProvider:
        return False
    receives: Any = cls.receives_receipts  # the property itself, read on the class
    return receives is not Provider.__dict__["receives_receipts"]


async def refresh(rt: Runtime) -> None:
    """Build (and so start listening) every gateway that may receive reports and changed
    since this process last built it; retire those that are gone."""
    from app.services import gateways  # the services import this package

    rows = await rt.db.read(gateway_repo.versions)
    for gateway_id, name, module, updated_at in rows:
        if not may_listen(module) or rt.pool.version_of(gateway_id) == updated_at:
            continue
        try:
            rt.pool.ensure(await gateways.load_config(rt, name))
        except (NotFound, OptionsInvalid, UnknownProvider) as exc:
            log.warning("gateway %r cannot listen for delivery reports: %s", name, exc)
    present = {gateway_id for gateway_id, *_ in rows}
    for gateway_id in rt.pool.live_ids() - present:
        rt.pool.forget(gateway_id)


async def keep_listening(rt: Runtime) -> None:
    """Refresh now and then, until cancelled (the pool stops the listeners on close)."""
    interval = max(MIN_INTERVAL, rt.settings.cache_seconds)
    while True:
        try:
            await refresh(rt)
        except SQLAlchemyError as exc:  # the next round tries again
            log.warning("refreshing delivery report listeners failed: %s", type(exc).__name__)
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))
