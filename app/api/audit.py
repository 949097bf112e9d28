"""/audit: read the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.api.deps import Rt, allow
from app.api.envelope import ERRORS, ok
from app.schemas.audit import AuditPage
from app.schemas.envelope import Envelope, NoDetail
from app.security.caller import Caller
from app.services import audit

router = APIRouter(prefix="/audit", tags=["audit"])


class AuditAnswer(Envelope[AuditPage, NoDetail]):
    """result.value is one page of the audit trail, newest first."""


@router.get(
    "/",
    operation_id="list_audit",
    summary="The audit trail: who did what, when, and whether it worked",
    response_model=AuditAnswer,
    responses=ERRORS,
)
async def list_audit(
    rt: Rt,
    _: Annotated[Caller, Depends(allow("auditlog"))],
    action: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=255)] = None,
    success: bool | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    pagesize: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Envelope[AuditPage, NoDetail]:
    return ok(
        await audit.page(
            rt, action=action, actor=actor, success=success, page=page, pagesize=pagesize
        )
    )
