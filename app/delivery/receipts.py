"""Delivery reports applied to the outbox: one function for every gateway (an SMPP session's
deliver_sm, an HTTP gateway's callback), matched through the database, never memory, so a
report reaching any worker or node, after any restart, lands."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.db.tables import utcnow
from app.delivery import receipts_repo
from app.delivery.receipts_repo import FINAL_STATES, Report
from app.observability import metrics
from providers.base import RECEIPT_STATES, Receipt, ReceiptSink

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger("smsgw.delivery")
Outcome = Literal["applied", "duplicate", "kept", "unknown_id"]


@dataclass(frozen=True)
class Applied:
    """What a receipt did."""

    outcome: Outcome  # applied: a part moved on; duplicate: nothing to change; kept: no
    # message has the id yet, but one on the gateway awaits its submit answer
    message_id: int | None = None
    message_state: str | None = None  # the message's new final state, if this made it final


def _apply(tx: Session, report: Report) -> Applied:
    moved, message_id = receipts_repo.advance(tx, report)
    if not moved:
        if receipts_repo.known(tx, report.gateway, report.provider_id):
            return Applied("duplicate")
        if receipts_repo.awaiting_answer(tx, report.gateway) and receipts_repo.keep(tx, report):
            return Applied("kept")
        # The attempt naming the id may have committed since the first look (PostgreSQL).
        moved, message_id = receipts_repo.advance(tx, report)
        if not moved:
            known = receipts_repo.known(tx, report.gateway, report.provider_id)
            return Applied("duplicate" if known else "unknown_id")
    if message_id is None:
        return Applied("kept")
    status = receipts_repo.settle(tx, message_id) if report.state in FINAL_STATES else None
    return Applied("applied", message_id, status)


async def apply(rt: Runtime, gateway: str, receipt: Receipt) -> Applied:
    """Apply one receipt: idempotent, a part only moves forward, a final state stays.

    `receipt.state` must be one of RECEIPT_STATES (the caller checked).
    """
    report = Report(
        gateway=gateway,
        provider_id=receipt.provider_id,
        state=receipt.state,
        provider_status=receipt.provider_status,
        error=receipt.error,
        reported_at=receipt.reported_at,
        received_at=utcnow(),
    )
    applied = await rt.delivery.group.run(lambda tx: _apply(tx, report))
    if applied.outcome != "unknown_id":
        metrics.dlr(gateway, receipt.state)
    if applied.message_state is not None:
        log.info("message %s %s (delivery report)", applied.message_id, applied.message_state)
    return applied


def rejected(gateway: str, reason: str) -> None:
    """Count and log a report that was refused or could not be read."""
    metrics.dlr_rejected(gateway, reason)
    log.warning("delivery report from gateway %r refused: %s", gateway[:100], reason)


def sink(rt: Runtime) -> ReceiptSink:
    """Where providers hand their receipts: applied, or counted and logged, never raised."""

    async def take(gateway: str, receipt: Receipt) -> None:
        if receipt.state not in RECEIPT_STATES:
            rejected(gateway, "bad_state")
            return
        try:
            applied = await apply(rt, gateway, receipt)
        except SQLAlchemyError as exc:
            log.warning("delivery report for %r not stored: %s", gateway, type(exc).__name__)
            metrics.dlr_rejected(gateway, "database")
            return
        if applied.outcome == "unknown_id":
            rejected(gateway, "unknown_id")

    return take


async def sweep(rt: Runtime, now: datetime | None = None) -> int:
    """Sent messages still without a final report when it was due become `unknown`."""
    from app.delivery import config as delivery_config  # the services import this package
    from app.services import system_config

    now = now or utcnow()
    timeout = delivery_config.parse(await system_config.values(rt)).dlr_timeout
    kept_since = now - timedelta(seconds=timeout)
    moved = await rt.db.write(lambda tx: receipts_repo.sweep(tx, now, kept_since))
    if moved:
        log.info("%s sent messages got no final delivery report in time: unknown", moved)
    return moved
