"""The message log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db.tables import MessageLog


def add_all(tx: Session, entries: list[dict[str, Any]]) -> list[int]:
    """Insert rows given as column values (a Core insert: no ORM bookkeeping per row)."""
    table = MessageLog.__table__  # type: ignore[attr-defined]
    statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(row_id) for row_id in tx.execute(statement, entries).scalars()]


async def page(
    tx: AsyncSession,
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
    total = (await tx.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await tx.execute(
        query.order_by(MessageLog.id.desc()).offset(offset).limit(limit)  # type: ignore[union-attr]
    )
    return int(total), rows.scalars().all()
