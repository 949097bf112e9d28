"""/token: enrol and administer SMS tokens (privacyIDEA's paths and envelopes)."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.api.deps import Rt, allow
from app.api.envelope import ERRORS, error_doc, ok, ok_detail
from app.schemas.envelope import Envelope, NoDetail
from app.schemas.token import SetPinIn, TokenInitDetail, TokenInitIn, TokenPage, TokenSelectIn
from app.security.caller import Caller
from app.services import tokens

router = APIRouter(prefix="/token", tags=["token"])
Serial = Annotated[str, Path(min_length=1, max_length=64)]


class TokenInitAnswer(Envelope[bool, TokenInitDetail]):
    """result.value is true; detail.serial names the new token."""


class TokenListAnswer(Envelope[TokenPage, NoDetail]):
    """result.value.tokens is one page of tokens."""


class TokenCountAnswer(Envelope[int, NoDetail]):
    """result.value is the number of tokens changed."""


@router.post(
    "/init",
    operation_id="init_token",
    summary="Enrol an SMS token",
    description="`detail.googleurl` is privacyIDEA's enrolment URL (otpauth://sms/...) with "
    "its QR code. A `serial` that is taken is a 409; an `sms.identifier` that names no "
    "gateway is a 404.",
    response_model=TokenInitAnswer,
    responses={
        **ERRORS,
        409: error_doc(
            409,
            905,
            "The serial is taken",
            "ERR905: Invalid parameter: serial: 'PISM0001' already exists",
        ),
    },
)
async def init_token(
    body: TokenInitIn, rt: Rt, caller: Annotated[Caller, Depends(allow("enrollSMS"))]
) -> Envelope[bool, TokenInitDetail]:
    serial, googleurl = await tokens.init(rt, body, caller)
    detail = TokenInitDetail(serial=serial, threadid=threading.get_ident(), googleurl=googleurl)
    return ok_detail(True, detail)


@router.get(
    "/",
    operation_id="list_tokens",
    summary="List tokens, by serial or by user and realm",
    response_model=TokenListAnswer,
    responses=ERRORS,
)
@router.get("", include_in_schema=False)
async def list_tokens(
    rt: Rt,
    caller: Annotated[Caller, Depends(allow("tokenlist"))],
    serial: Annotated[str | None, Query(max_length=64)] = None,
    user: Annotated[str | None, Query(max_length=255)] = None,
    realm: Annotated[str | None, Query(max_length=255)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    pagesize: Annotated[int, Query(ge=1, le=500)] = 15,
) -> Envelope[TokenPage, NoDetail]:
    return ok(
        await tokens.page(
            rt, caller, serial=serial, user=user, realm=realm, page=page, pagesize=pagesize
        )
    )


@router.delete(
    "/{serial}",
    operation_id="delete_token",
    summary="Delete a token",
    response_model=TokenCountAnswer,
    responses=ERRORS,
)
async def delete_token(
    serial: Serial, rt: Rt, caller: Annotated[Caller, Depends(allow("delete"))]
) -> Envelope[int, NoDetail]:
    return ok(await tokens.delete(rt, serial, caller))


@router.post(
    "/enable",
    operation_id="enable_token",
    summary="Enable tokens (by serial, or every token of a user)",
    response_model=TokenCountAnswer,
    responses=ERRORS,
)
async def enable_token(
    body: TokenSelectIn, rt: Rt, caller: Annotated[Caller, Depends(allow("enable"))]
) -> Envelope[int, NoDetail]:
    return ok(await tokens.update(rt, body, caller, "token_enable", active=True))


@router.post(
    "/disable",
    operation_id="disable_token",
    summary="Disable tokens: a disabled token starts and accepts nothing",
    response_model=TokenCountAnswer,
    responses=ERRORS,
)
async def disable_token(
    body: TokenSelectIn, rt: Rt, caller: Annotated[Caller, Depends(allow("disable"))]
) -> Envelope[int, NoDetail]:
    return ok(await tokens.update(rt, body, caller, "token_disable", active=False))


@router.post(
    "/resetfailcount",
    operation_id="reset_failcount",
    summary="Reset the fail counter (unlocks a locked token)",
    response_model=TokenCountAnswer,
    responses=ERRORS,
)
async def reset_failcount(
    body: TokenSelectIn, rt: Rt, caller: Annotated[Caller, Depends(allow("resetfailcount"))]
) -> Envelope[int, NoDetail]:
    return ok(await tokens.update(rt, body, caller, "token_resetfailcount", failcount=0))


@router.post(
    "/setpin",
    operation_id="set_pin",
    summary="Set a token's OTP PIN",
    response_model=TokenCountAnswer,
    responses=ERRORS,
)
async def set_pin(
    body: SetPinIn, rt: Rt, caller: Annotated[Caller, Depends(allow("setpin"))]
) -> Envelope[int, NoDetail]:
    return ok(await tokens.set_pin(rt, body.serial, body.otppin, caller))
