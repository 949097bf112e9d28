"""The one way anything is sent: /sms/send, challenges and triggerchallenge all come here.

Retries, failover, rate limits and an outbox will wrap `send` without touching the routes
or the providers; today it sends once and records the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.db.tables import MessageLog, utcnow
from app.runtime import Runtime
from app.schemas.sms import MessageOut
from app.services import gateways
from app.services.phone import mask
from app.traffic.gateway_limits import GatewayThrottled, admitted
from providers.base import SendError
from providers.registry import OptionsInvalid, UnknownProvider

log = logging.getLogger("smsgw.dispatch")
# How long a send may wait for its gateway's rate, daily cap or concurrency to let it go.
_MAX_WAIT = 10.0
MESSAGES = MessageLog.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Outgoing:
    gateway: str
    phone: str  # already normalised
    message: str
    source: str = "api"
    serial: str = ""
    transaction_id: str = ""


async def send(rt: Runtime, outgoing: Outgoing) -> MessageOut:
    """Send one message and log it; a failure is logged too and comes back as status 'failed'.

    An unknown gateway raises NotFound before anything is attempted.
    """
    entry = await _attempt(rt, outgoing)
    entry["id"] = await rt.journal.record(MESSAGES, entry)
    return to_out(entry)


async def deliver(rt: Runtime, outgoing: Outgoing) -> bool:
    """Send one message for a login; whether it went out.

    Its log row is queued, not awaited: the login awaits its audit row next, and the
    journal commits rows in the order they came, so both are written before it answers.
    """
    entry = await _attempt(rt, outgoing)
    rt.journal.queue(MESSAGES, entry).add_done_callback(_log_write_failure)
    return bool(entry["status"] == "sent")


def _log_write_failure(done: asyncio.Future[int]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.error("a message-log row was not written: %s", done.exception())


async def _attempt(rt: Runtime, outgoing: Outgoing) -> dict[str, Any]:
    """Send once through the gateway; the message-log row that says how it went."""
    config = await gateways.config_for_send(rt, outgoing.gateway)
    started = utcnow()
    clock = time.perf_counter()
    ids: list[str] = []
    parts, error = 0, ""
    try:
        async with admitted(rt, config, _MAX_WAIT), rt.pool.lease(config) as provider:
            result = await provider.send(outgoing.phone, outgoing.message)
        ids, parts = result.message_ids, result.parts
    except SendError as exc:
        error = f"{exc.code}: {exc.message}"
    except GatewayThrottled as exc:
        error = f"throttled: {exc.reason}"
    except (OptionsInvalid, UnknownProvider) as exc:
        # Stored before validation existed, or its provider was removed: fail, don't crash.
        error = f"gateway definition unusable: {exc}"
    latency_ms = (time.perf_counter() - clock) * 1000
    if error:
        log.warning("send through %s failed: %s", outgoing.gateway, error)
    return {
        "created_at": started,
        "finished_at": utcnow(),
        "gateway": outgoing.gateway,
        "phone": mask(outgoing.phone),
        "status": "failed" if error else "sent",
        "attempts": 1,
        "parts": parts,
        "latency_ms": round(latency_ms, 2),
        "provider_ids": ",".join(ids),
        "error": error[:1000],
        "source": outgoing.source,
        "serial": outgoing.serial,
        "transaction_id": outgoing.transaction_id,
    }


def to_out(entry: Mapping[str, Any]) -> MessageOut:
    """A message-log row (as its column values) in the API's shape."""
    return MessageOut(
        **{**entry, "provider_ids": [i for i in entry["provider_ids"].split(",") if i]}
    )
