"""/validate: the logins of an authentication service (privacyIDEA's wire format)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.api.deps import Rt, allow, client_ip
from app.api.envelope import ERRORS, error_doc
from app.schemas.envelope import AuthEnvelope
from app.schemas.validate import CheckDetail, CheckIn, TriggerIn
from app.security.caller import Caller
from app.security.passwords import BUSY_EXAMPLE
from app.services import logins, policies

router = APIRouter(prefix="/validate", tags=["validate"])


class CheckAnswer(AuthEnvelope[bool, CheckDetail]):
    """result.value is true for ACCEPT; CHALLENGE carries detail.transaction_id."""

    id: int = 2  # privacyIDEA numbers its /validate answers 2; its clients may check


class TriggerAnswer(AuthEnvelope[int, CheckDetail]):
    """result.value is the number of challenges started."""

    id: int = 2


def _answer(
    model: type[CheckAnswer | TriggerAnswer], value: int, outcome: logins.Outcome
) -> Response:
    # Serialised here rather than by FastAPI, which would check the answer against its
    # response model once more: an authentication service calls this on every login.
    answer = model(
        result={"value": value, "authentication": outcome.authentication},
        detail=outcome.detail,
    )
    return Response(answer.model_dump_json(exclude_none=True), media_type="application/json")


@router.post(
    "/check",
    operation_id="validate_check",
    summary="Check a PIN (starts an SMS challenge), PIN+OTP, or transaction_id + OTP",
    response_model=CheckAnswer,
    response_model_exclude_none=True,
    responses={
        400: ERRORS[400],
        413: ERRORS[413],
        415: ERRORS[415],
        503: error_doc(503, 503, "Too many PIN checks waiting (see Retry-After)", BUSY_EXAMPLE),
    },
)
async def validate_check(body: CheckIn, rt: Rt, request: Request) -> Response:
    outcome = await logins.check(rt, body, client_ip(request))
    return _answer(CheckAnswer, outcome.value, outcome)


@router.post(
    "/triggerchallenge",
    operation_id="trigger_challenge",
    summary="Send the SMS without the PIN (the caller checked the first factor)",
    response_model=TriggerAnswer,
    response_model_exclude_none=True,
    responses=ERRORS,
)
async def trigger_challenge(
    body: TriggerIn,
    rt: Rt,
    request: Request,
    caller: Annotated[Caller, Depends(allow("triggerchallenge"))],
) -> Response:
    await policies.require_for_tokens(
        rt, caller, "triggerchallenge", serial=body.serial, user=body.user, realm=body.realm
    )
    outcome = await logins.trigger(rt, body, client_ip(request))
    return _answer(TriggerAnswer, outcome.challenges, outcome)
