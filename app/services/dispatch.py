"""The one way anything is sent: /sms/send, challenges and triggerchallenge all come here.

Retries, failover, rate limits and an outbox will wrap `send` without touching the routes
or the providers; today it sends once and records the outcome.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from app.db.tables import MessageLog, utcnow
from app.runtime import Runtime
from app.schemas.sms import MessageOut
from app.services import gateways
from app.services.phone import mask
from providers.base import SendError
from providers.registry import OptionsInvalid, UnknownProvider

log = logging.getLogger("smsgw.dispatch")


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
    config = await gateways.config_for_send(rt, outgoing.gateway)
    started = utcnow()
    clock = time.perf_counter()
    ids: list[str] = []
    parts, error = 0, ""
    try:
        async with rt.pool.lease(config) as provider:
            result = await provider.send(outgoing.phone, outgoing.message)
        ids, parts = result.message_ids, result.parts
    except SendError as exc:
        error = f"{exc.code}: {exc.message}"
    except (OptionsInvalid, UnknownProvider) as exc:
        # Stored before validation existed, or its provider was removed: fail, don't crash.
        error = f"gateway definition unusable: {exc}"
    latency_ms = (time.perf_counter() - clock) * 1000
    if error:
        log.warning("send through %s failed: %s", outgoing.gateway, error)
    row = MessageLog(
        created_at=started,
        finished_at=utcnow(),
        gateway=outgoing.gateway,
        phone=mask(outgoing.phone),
        status="failed" if error else "sent",
        attempts=1,
        parts=parts,
        latency_ms=round(latency_ms, 2),
        provider_ids=",".join(ids),
        error=error[:1000],
        source=outgoing.source,
        serial=outgoing.serial,
        transaction_id=outgoing.transaction_id,
    )
    await rt.message_log.record(row)
    return to_out(row)


def to_out(row: MessageLog) -> MessageOut:
    return MessageOut(
        id=row.id or 0,
        gateway=row.gateway,
        phone=row.phone,
        status="failed" if row.status == "failed" else "sent",
        attempts=row.attempts,
        parts=row.parts,
        latency_ms=row.latency_ms,
        provider_ids=[i for i in row.provider_ids.split(",") if i],
        error=row.error,
        source=row.source,
        serial=row.serial,
        transaction_id=row.transaction_id,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )
