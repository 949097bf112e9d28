"""Reading the outbox: messages with their attempts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import DeliveryAttempt, MessageLog


async def page(
    tx: AsyncSession,
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
        query = query.where(MessageLog.gateway == gateway)  # type: ignore[arg-type]
    if status is not None:
        query = query.where(MessageLog.status == status)  # type: ignore[arg-type]
    if transaction_id is not None:
        query = query.where(MessageLog.transaction_id == transaction_id)  # type: ignore[arg-type]
    if since is not None:
        query = query.where(MessageLog.created_at >= since)  # type: ignore[arg-type]
    if until is not None:
        query = query.where(MessageLog.created_at < until)  # type: ignore[arg-type]
    total = (await tx.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await tx.execute(
        query.order_by(MessageLog.id.desc()).offset(offset).limit(limit)  # type: ignore[union-attr]
    )
    return int(total), rows.scalars().all()


async def by_id(tx: AsyncSession, message_id: int) -> MessageLog | None:
    return await tx.get(MessageLog, message_id)


async def attempts_of(
    tx: AsyncSession, message_ids: Sequence[int]
) -> dict[int, list[DeliveryAttempt]]:
    """Each message's attempts, oldest first."""
    found: dict[int, list[DeliveryAttempt]] = defaultdict(list)
    if not message_ids:
        return found
    rows = await tx.execute(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.message_id.in_(list(message_ids)))  # type: ignore[attr-defined]
        .order_by(DeliveryAttempt.id)  # type: ignore[arg-type]
    )
    for attempt in rows.scalars():
        found[attempt.message_id].append(attempt)
    return found
