"""Audit rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.db.tables import AuditEntry

AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
_ADD = insert(AUDIT)


def add(tx: Session, row: dict[str, Any]) -> None:
    """Insert a row built by `app.services.audit.entry`."""
    tx.connection().execute(_ADD, row)


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
        query = query.where(AuditEntry.action == action)  # type: ignore[arg-type]
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)  # type: ignore[arg-type]
    if success is not None:
        query = query.where(AuditEntry.success.is_(success))  # type: ignore[attr-defined]
    total = tx.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = tx.execute(
        query.order_by(AuditEntry.id.desc()).offset(offset).limit(limit)  # type: ignore[union-attr]
    )
    return int(total), rows.scalars().all()
