"""The audit trail: who did what, when, and whether it worked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import audit_repo
from app.db.engine import Database

if TYPE_CHECKING:
    from app.runtime import Runtime
from app.errors import SmsgwError
from app.schemas.audit import AuditOut, AuditPage
from app.services.paging import neighbours


@dataclass(frozen=True)
class Caller:
    """The authenticated admin (or the anonymous client) behind a request."""

    name: str
    ip: str = ""
    role: str = "admin"


@asynccontextmanager
async def audited(
    db: Database, caller: Caller, action: str, target: str
) -> AsyncIterator[AsyncSession]:
    """One transaction that records its own success; a failure is recorded after rollback."""
    try:
        async with db.transaction() as tx:
            yield tx
            await audit_repo.add(
                tx, actor=caller.name, action=action, target=target, client_ip=caller.ip
            )
    except SmsgwError as exc:
        async with db.transaction() as tx:
            await audit_repo.add(
                tx,
                actor=caller.name,
                action=action,
                target=target,
                client_ip=caller.ip,
                success=False,
                info=exc.message[:500],
            )
        raise


async def page(
    rt: Runtime,
    *,
    action: str | None,
    actor: str | None,
    success: bool | None,
    page: int,
    pagesize: int,
) -> AuditPage:
    async with rt.db.reading() as tx:
        total, rows = await audit_repo.page(
            tx,
            action=action,
            actor=actor,
            success=success,
            offset=(page - 1) * pagesize,
            limit=pagesize,
        )
    following, previous = neighbours(total, page, pagesize)
    return AuditPage(
        auditdata=[AuditOut.model_validate(r, from_attributes=True) for r in rows],
        count=total,
        current=page,
        next=following,
        prev=previous,
    )
