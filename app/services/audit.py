"""The audit trail: who did what, when, and whether it worked."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.db import audit_repo
from app.db.engine import Database
from app.errors import SmsgwError


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
