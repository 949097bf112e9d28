"""The audit trail: who did what, when, and whether it worked.

Every row is built by `entry`. An admin's change and its row commit together
(`audited_write`), as does an answered challenge (`add`, in its transaction); a PIN step's
row is batched with other rows (`note`): its SMS is an outbox row written with the
challenge itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session

from app.db import audit_repo
from app.db.audit_repo import AUDIT
from app.db.engine import Work
from app.db.tables import utcnow
from app.errors import SmsgwError
from app.schemas.audit import AuditOut, AuditPage
from app.security.caller import Caller
from app.services.paging import neighbours

if TYPE_CHECKING:
    from app.runtime import Runtime

T = TypeVar("T")
_TEXT_LIMIT = 2000  # for the unbounded columns: an info or target is never a document
_LIMITS = {
    column.name: getattr(column.type, "length", None) or _TEXT_LIMIT for column in AUDIT.columns
}


def entry(
    *,
    action: str,
    success: bool = True,
    actor: str = "",
    target: str = "",
    info: str = "",
    client_ip: str = "",
    serial: str = "",
    user: str = "",
    realm: str = "",
) -> dict[str, Any]:
    """An audit row: every text cut to its column's length. Never give it a PIN or OTP."""
    texts = {
        "actor": actor,
        "action": action,
        "target": target,
        "info": info,
        "client_ip": client_ip,
        "serial": serial,
        "user": user,
        "realm": realm,
    }
    row: dict[str, Any] = {key: value[: _LIMITS[key]] for key, value in texts.items()}
    return {"ts": utcnow(), "success": success, **row}


async def audited_write(rt: Runtime, caller: Caller, action: str, target: str, work: Work[T]) -> T:
    """`work` and its audit row in one write transaction; a refusal is audited after it."""

    def with_audit(tx: Session) -> T:
        result = work(tx)
        audit_repo.add(
            tx, entry(action=action, actor=caller.name, target=target, client_ip=caller.ip)
        )
        return result

    try:
        return await rt.db.write(with_audit)
    except SmsgwError as exc:
        refused = entry(
            action=action,
            success=False,
            actor=caller.name,
            target=target,
            info=exc.message,
            client_ip=caller.ip,
        )
        await note(rt, refused)
        raise


async def note(rt: Runtime, row: dict[str, Any]) -> None:
    """An audit row on a hot path, batched with others' rows."""
    await rt.journal.record(AUDIT, row)


def add(tx: Session, row: dict[str, Any]) -> None:
    """An audit row in the caller's transaction: it commits with what it describes."""
    audit_repo.add(tx, row)


async def page(
    rt: Runtime,
    *,
    action: str | None,
    actor: str | None,
    success: bool | None,
    page: int,
    pagesize: int,
) -> AuditPage:
    total, rows = await rt.db.read(
        lambda tx: audit_repo.page(
            tx,
            action=action,
            actor=actor,
            success=success,
            offset=(page - 1) * pagesize,
            limit=pagesize,
        )
    )
    following, previous = neighbours(total, page, pagesize)
    return AuditPage(
        auditdata=[AuditOut.model_validate(r, from_attributes=True) for r in rows],
        count=total,
        current=page,
        next=following,
        prev=previous,
    )
