"""The audit trail: who did what, when, and whether it worked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db import audit_repo
from app.db.engine import Database
from app.db.tables import AuditEntry, utcnow
from app.errors import SmsgwError
from app.schemas.audit import AuditOut, AuditPage
from app.services.paging import neighbours

AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]

if TYPE_CHECKING:
    from app.runtime import Runtime

T = TypeVar("T")


@dataclass(frozen=True)
class Caller:
    """The authenticated admin (or the anonymous client) behind a request."""

    name: str
    ip: str = ""
    role: str = "admin"  # or "apikey"
    # An API key may do only these actions (admin policies apply on top); None: an admin.
    actions: frozenset[str] | None = None


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


async def note(
    rt: Runtime,
    *,
    action: str,
    success: bool,
    actor: str = "",
    target: str = "",
    info: str = "",
    client_ip: str = "",
    serial: str = "",
    user: str = "",
    realm: str = "",
) -> None:
    """An audit row on a hot path (a login): batched with others, never a PIN or OTP."""
    await rt.journal.record(
        AUDIT,
        {
            "ts": utcnow(),
            "actor": actor[:255],
            "action": action,
            "target": target[:2000],
            "success": success,
            "info": info[:2000],
            "client_ip": client_ip[:64],
            "serial": serial[:64],
            "user": user[:255],
            "realm": realm[:255],
        },
    )


async def audited_write(
    rt: Runtime, caller: Caller, action: str, target: str, work: Callable[[Session], T]
) -> T:
    """`work` and its audit row in one write transaction; a refusal is audited after it."""

    def with_audit(tx: Session) -> T:
        result = work(tx)
        audit_repo.add_sync(
            tx, actor=caller.name, action=action, target=target, client_ip=caller.ip
        )
        return result

    try:
        return await rt.db.write(with_audit)
    except SmsgwError as exc:
        await note(
            rt,
            action=action,
            success=False,
            actor=caller.name,
            target=target,
            info=exc.message[:500],
            client_ip=caller.ip,
        )
        raise
