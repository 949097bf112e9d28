"""Audit rows."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

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
