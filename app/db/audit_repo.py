"""Audit rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.prepared import Prepared
from app.db.tables import AuditEntry, table

AUDIT = table(AuditEntry)
# Every login writes one: the columns of `app.services.audit.entry`.
_ADD = Prepared(
    insert(AUDIT),
    keys=[
        "ts", "success", "actor", "action", "target", "info", "client_ip", "serial", "user",
        "realm",
    ],
)  # fmt: skip


def add(tx: Session, row: dict[str, Any]) -> None:
    """Insert a row built by `app.services.audit.entry`."""
    _ADD(tx, row)


def page(
    tx: Session,
    *,
    action: str | None,
    actor: str | None,
    success: bool | None,
    offset: int,
    limit: int,
) -> tuple[int, Sequence[AuditEntry]]:
    query = select(AuditEntry)
    if action is not None:
        query = query.where(col(AuditEntry.action) == action)
    if actor is not None:
        query = query.where(col(AuditEntry.actor) == actor)
    if success is not None:
        query = query.where(col(AuditEntry.success).is_(success))
    total = tx.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = tx.execute(query.order_by(col(AuditEntry.id).desc()).offset(offset).limit(limit))
    return int(total), rows.scalars().all()
