"""/system: the sms.* configuration (privacyIDEA's setConfig)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.api.deps import Rt, allow
from app.api.envelope import ERRORS, ok
from app.schemas.envelope import Envelope, NoDetail
from app.schemas.system import ConfigKey, SetConfigIn
from app.security.caller import Caller
from app.services import system_config

router = APIRouter(prefix="/system", tags=["system"])


class SetConfigAnswer(Envelope[dict[str, str], NoDetail]):
    """result.value maps each key to "insert" or "update"."""


class ConfigAnswer(Envelope[dict[str, str], NoDetail]):
    """result.value maps each set key to its value."""


class DeleteConfigAnswer(Envelope[bool, NoDetail]):
    """result.value is true once the key is gone."""


@router.post(
    "/setConfig",
    operation_id="set_config",
    summary="Set sms.identifier, sms.providerTimeout, sms.text, sms.concurrent_challenges",
    response_model=SetConfigAnswer,
    responses=ERRORS,
)
async def set_config(
    body: SetConfigIn, rt: Rt, caller: Annotated[Caller, Depends(allow("system_write"))]
) -> Envelope[dict[str, str], NoDetail]:
    return ok(await system_config.set_values(rt, body, caller))


@router.get(
    "/",
    operation_id="get_config",
    summary="The configuration that is set",
    response_model=ConfigAnswer,
    responses=ERRORS,
)
async def get_config(
    rt: Rt, _: Annotated[Caller, Depends(allow("system_read"))]
) -> Envelope[dict[str, str], NoDetail]:
    return ok(await system_config.values(rt))


@router.delete(
    "/{key}",
    operation_id="delete_config",
    summary="Delete a configuration key (its default applies again)",
    response_model=DeleteConfigAnswer,
    responses=ERRORS,
)
async def delete_config(
    key: Annotated[ConfigKey, Path(description="One of the sms.* keys smsgw serves")],
    rt: Rt,
    caller: Annotated[Caller, Depends(allow("system_write"))],
) -> Envelope[bool, NoDetail]:
    return ok(await system_config.delete(rt, key, caller))
