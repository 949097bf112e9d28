"""/admin: admin accounts (adding one, or a new password, is `smsgw admin add`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.api.deps import Rt, allow
from app.api.envelope import ERRORS, ok
from app.schemas.envelope import Envelope, NoDetail
from app.security.caller import Caller
from app.services import admins

router = APIRouter(prefix="/admin", tags=["admin"])


class AdminDeleteAnswer(Envelope[int, NoDetail]):
    """result.value is the number of admins deleted (1)."""


@router.delete(
    "/{name}",
    operation_id="delete_admin",
    summary="Delete an admin; its tokens stop working (action admin_write)",
    response_model=AdminDeleteAnswer,
    responses=ERRORS,
)
async def delete_admin(
    name: Annotated[str, Path(min_length=1, max_length=255)],
    rt: Rt,
    caller: Annotated[Caller, Depends(allow("admin_write"))],
) -> Envelope[int, NoDetail]:
    return ok(await admins.delete(rt, name, caller))
