"""Reading the outbox: messages with their attempts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.tables import DeliveryAttempt, MessageLog, table

MESSAGES = table(MessageLog)


def page(
    tx: Session,
    *,
    gateway: str | None,
    status: str | None,
    transaction_id: str | None,
    since: datetime | None,
    until: datetime | None,
    offset: int,
    limit: int,
) -> tuple[int, Sequence[MessageLog]]:
    query = select(MessageLog)
    if gateway is not None:
        query = query.where(col(MessageLog.gateway) == gateway)
    if status is not None:
        query = query.where(col(MessageLog.status) == status)
    if transaction_id is not None:
        query = query.where(col(MessageLog.transaction_id) == transaction_id)
    if since is not None:
        query = query.where(col(MessageLog.created_at) >= since)
    if until is not None:
        query = query.where(col(MessageLog.created_at) < until)
    total = (tx.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = tx.execute(query.order_by(col(MessageLog.id).desc()).offset(offset).limit(limit))
    return int(total), rows.scalars().all()


def by_id(tx: Session, message_id: int) -> MessageLog | None:
    return tx.get(MessageLog, message_id)


def attempts_of(tx: Session, message_ids: Sequence[int]) -> dict[int, list[DeliveryAttempt]]:
    """Each message's attempts, oldest first."""
    found: dict[int, list[DeliveryAttempt]] = defaultdict(list)
    if not message_ids:
        return found
    rows = tx.execute(
        select(DeliveryAttempt)
        .where(col(DeliveryAttempt.message_id).in_(list(message_ids)))
        .order_by(col(DeliveryAttempt.id))
    )
    for attempt in rows.scalars():
        found[attempt.message_id].append(attempt)
    return found
