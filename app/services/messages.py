"""/sms: send through a route of gateways (inline or from the outbox); read the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.db import message_repo
from app.db.tables import DeliveryAttempt, MessageLog
from app.delivery import config as delivery_config
from app.delivery import engine, intake
from app.errors import GatewayFailed, NotFound
from app.runtime import Runtime
from app.schemas.sms import AttemptOut, MessageOut, MessagePage, SmsIn
from app.security.caller import Caller
from app.services import gateways, system_config
from app.services.paging import neighbours
from app.services.phone import normalise
from app.traffic.sms_send import check_send


async def send(
    rt: Runtime, form: SmsIn, caller: Caller, idempotency_key: str | None = None
) -> MessageOut:
    """Admit the message and, unless it is async, send it within sms.inline_budget.

    An unknown gateway anywhere in the route is a 404 naming it, before anything is
    queued; a synchronous send that no gateway accepted is a 502 naming the route.
    """
    route = form.route()
    for name in route:
        await gateways.config_for_send(rt, name)
    phone = normalise(form.phone)
    await check_send(rt, phone, caller.name, caller.ip)
    config = delivery_config.parse(await system_config.values(rt))
    admitted, message_id = await intake.admit_api(
        rt,
        route=route,
        phone=phone,
        message=form.message,
        inline=not form.is_async and intake.can_send_inline(rt, route),
        config=config,
        caller=caller.name,
        idempotency_key=idempotency_key,
        body_hash=intake.request_hash(
            gateways=route, phone=phone, message=form.message, is_async=form.is_async
        ),
    )
    if admitted is not None and form.is_async and not admitted.expired:
        rt.delivery.nudge()
        # Answered from what was written: an accepted async send costs one transaction.
        return to_out(MessageLog.model_validate(admitted.row), [])
    if admitted is not None:
        result = await intake.settle(
            rt, admitted, config, None if form.is_async else form.message, wait=True
        )
        if result.status == "sent" and result.attempts is not None:
            # Sent inline: answered from what was written, as reading it back would.
            return _sent(admitted.row, result)
    out = await record(rt, message_id)
    if out.status in ("failed", "expired"):
        names = ", ".join(repr(n) for n in route)
        gateway_word = "gateway" if len(route) == 1 else "gateways"
        raise GatewayFailed(
            f"SMS {gateway_word} {names} could not send (message {out.id}): {out.error}"
        )
    return out


def _sent(row: dict[str, Any], result: engine.Result) -> MessageOut:
    attempts = result.attempts or ()
    return MessageOut(
        id=row["id"],
        gateway=attempts[-1].gateway if attempts else row["gateway"],
        route=_ids(row["route"]) or [row["gateway"]],
        phone=row["phone"],
        status="sent",
        attempts=len(attempts),
        parts=result.parts,
        latency_ms=result.latency_ms,
        provider_ids=_ids(result.provider_ids),
        error="",
        source=row["source"],
        serial=row["serial"],
        transaction_id=row["transaction_id"],
        created_at=row["created_at"],
        finished_at=result.finished_at,
        deadline=row["deadline"],
        attempt_log=[_attempt_out(a) for a in attempts],
    )


async def record(rt: Runtime, message_id: int) -> MessageOut:
    def load(tx: Session) -> tuple[MessageLog | None, dict[int, list[DeliveryAttempt]]]:
        return message_repo.by_id(tx, message_id), message_repo.attempts_of(tx, [message_id])

    row, attempts = await rt.db.read(load)
    if row is None:
        raise NotFound(f"Message {message_id} does not exist")
    return to_out(row, attempts.get(message_id, []))


async def page(
    rt: Runtime,
    *,
    gateway: str | None,
    status: str | None,
    transaction_id: str | None,
    since: datetime | None,
    until: datetime | None,
    page: int,
    pagesize: int,
) -> MessagePage:
    def load(
        tx: Session,
    ) -> tuple[int, Sequence[MessageLog], dict[int, list[DeliveryAttempt]]]:
        total, rows = message_repo.page(
            tx,
            gateway=gateway,
            status=status,
            transaction_id=transaction_id,
            since=since,
            until=until,
            offset=(page - 1) * pagesize,
            limit=pagesize,
        )
        return total, rows, message_repo.attempts_of(tx, [r.id for r in rows if r.id is not None])

    total, rows, attempts = await rt.db.read(load)
    following, previous = neighbours(total, page, pagesize)
    return MessagePage(
        messages=[to_out(r, attempts.get(r.id or 0, [])) for r in rows],
        count=total,
        current=page,
        next=following,
        prev=previous,
    )


def _ids(joined: str) -> list[str]:
    return [i for i in joined.split(",") if i]


def to_out(row: MessageLog, attempts: list[DeliveryAttempt]) -> MessageOut:
    return MessageOut(
        id=row.id or 0,
        gateway=row.gateway,
        route=_ids(row.route) or [row.gateway],
        phone=row.phone,
        status=row.status,
        attempts=row.attempts,
        parts=row.parts,
        latency_ms=row.latency_ms,
        provider_ids=_ids(row.provider_ids),
        error=row.error,
        source=row.source,
        serial=row.serial,
        transaction_id=row.transaction_id,
        created_at=row.created_at,
        finished_at=row.finished_at,
        deadline=row.deadline,
        reported_at=row.reported_at,
        attempt_log=[_attempt_out(a) for a in attempts],
    )


def _attempt_out(attempt: Any) -> AttemptOut:
    """An attempt, as written to the database or kept in memory, in the API's shape."""
    return AttemptOut(
        gateway=attempt.gateway,
        node=attempt.node,
        started_at=attempt.started_at,
        finished_at=attempt.finished_at,
        outcome=attempt.outcome,
        error=attempt.error,
        provider_ids=_ids(attempt.provider_ids),
    )
