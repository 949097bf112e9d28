"""The message log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.tables import MessageLog, table

MESSAGES = table(MessageLog)


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
        query = query.where(col(MessageLog.gateway) == gateway)
    if status is not None:
        query = query.where(col(MessageLog.status) == status)
    if since is not None:
        query = query.where(col(MessageLog.created_at) >= since)
    if until is not None:
        query = query.where(col(MessageLog.created_at) < until)
    total = (tx.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = tx.execute(query.order_by(col(MessageLog.id).desc()).offset(offset).limit(limit))
    return int(total), rows.scalars().all()
