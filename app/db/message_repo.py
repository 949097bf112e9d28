"""The message log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.tables import MessageLog

MESSAGES = MessageLog.__table__  # type: ignore[attr-defined]


def page(
    tx: Session,
    *,
    gateway: str | None,
    status: str | None,
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
    if since is not None:
        query = query.where(MessageLog.created_at >= since)  # type: ignore[arg-type]
    if until is not None:
        query = query.where(MessageLog.created_at < until)  # type: ignore[arg-type]
    total = (tx.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = tx.execute(
        query.order_by(MessageLog.id.desc()).offset(offset).limit(limit)  # type: ignore[union-attr]
    )
    return int(total), rows.scalars().all()
