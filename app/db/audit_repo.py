"""Audit rows."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db.tables import AuditEntry


async def add(
    tx: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str = "",
    success: bool = True,
    info: str = "",
    client_ip: str = "",
    serial: str = "",
    user: str = "",
    realm: str = "",
) -> None:
    tx.add(
        AuditEntry(
            actor=actor,
            action=action,
            target=target[:2000],
            success=success,
            info=info,
            client_ip=client_ip,
            serial=serial,
            user=user,
            realm=realm,
        )
    )


async def page(
    tx: AsyncSession,
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
    total = (await tx.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await tx.execute(
        query.order_by(AuditEntry.id.desc()).offset(offset).limit(limit)  # type: ignore[union-attr]
    )
    return int(total), rows.scalars().all()


def add_sync(tx: Session, **fields: str | bool) -> None:
    """The same row as `add`, inside a plain-Session transaction."""
    tx.add(AuditEntry(**fields))  # type: ignore[arg-type]
