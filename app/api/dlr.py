"""Delivery reports over HTTP: the gateway's callback, and the admin's token for it."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from app.api.deps import Rt, allow
from app.api.envelope import ERRORS, error_doc, ok
from app.errors import ParameterError, SmsgwError
from app.schemas.dlr import DlrOut, DlrTokenOut
from app.schemas.envelope import Envelope, NoDetail
from app.schemas.types import MAX_NAME
from app.security.caller import Caller
from app.services import dlr

router = APIRouter(tags=["sms"])
# A report is a handful of fields; anything larger is not one.
MAX_REPORT_BYTES = 16 * 1024


class TooLarge(SmsgwError):
    status, code = 413, 905


class DlrAnswer(Envelope[DlrOut, NoDetail]):
    """result.value says what the report did."""


class DlrTokenAnswer(Envelope[DlrTokenOut, NoDetail]):
    """result.value holds the new token, shown only this once."""


_REPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_doc(
        400,
        905,
        "The report lacks the id or status field, its status is not in the gateway's "
        "DLR_STATUS_MAP, or its body is not a JSON object or form",
        "ERR905: Invalid parameter: status: status 'weird' is not in the gateway's DLR_STATUS_MAP",
    ),
    401: error_doc(
        401,
        4031,
        "Wrong token (or no such gateway)",
        "Delivery report refused: wrong token for gateway 'my-gateway'",
    ),
    404: error_doc(
        404, 601, "No message has the id", "No message sent through 'my-gateway' has the id 'x'"
    ),
    413: error_doc(413, 905, "Body larger than 16 KiB", "A delivery report is at most 16384 bytes"),
    415: ERRORS[415],
}
_REPORT_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "The report's fields, named as the gateway's DLR_ID_FIELD, "
                    "DLR_STATUS_FIELD and DLR_ERROR_FIELD options say (a form works too)",
                    "maxProperties": 100,
                    "additionalProperties": True,
                    "example": {"id": "4f2a9c", "status": "DELIVRD"},
                }
            }
        },
    }
}
_DESCRIPTION = (
    "Called by an HTTP gateway with a delivery report; no admin login, the token in the path "
    "is the credential (see POST /sms/gateways/{name}/dlr-token). The fields may come in the "
    "query string, a form or a JSON object (merged; the body wins), named by the gateway's "
    "options DLR_ID_FIELD (default `id`), DLR_STATUS_FIELD (default `status`) and "
    "DLR_ERROR_FIELD; DLR_STATUS_MAP turns the gateway's status into ours. The id is the one "
    "MESSAGE_ID_FIELD read from the submit answer. Repeats and late, earlier states change "
    "nothing; a final state stays."
)
Gateway = Annotated[str, Path(min_length=1, max_length=MAX_NAME, description="Gateway name")]
Token = Annotated[str, Path(min_length=1, max_length=128, description="The gateway's token")]


async def _fields(request: Request) -> dict[str, Any]:
    fields: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if len(body) > MAX_REPORT_BYTES:
        raise TooLarge(f"A delivery report is at most {MAX_REPORT_BYTES} bytes")
    if body.strip():
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ParameterError("ERR905: Invalid parameter: body: not valid JSON") from None
        if not isinstance(data, dict):
            raise ParameterError("ERR905: Invalid parameter: body: not a JSON object")
        fields.update(data)
    return fields


async def _receive(
    rt: Rt, gateway: str, token: str, request: Request
) -> Envelope[DlrOut, NoDetail]:
    return ok(await dlr.receive(rt, gateway, token, await _fields(request)))


@router.get(
    "/sms/dlr/{gateway}/{token}",
    operation_id="delivery_report_get",
    summary="A delivery report from an HTTP gateway (fields in the query string)",
    description=_DESCRIPTION,
    response_model=DlrAnswer,
    responses=_REPORT_ERRORS,
)
async def delivery_report_get(
    rt: Rt, gateway: Gateway, token: Token, request: Request
) -> Envelope[DlrOut, NoDetail]:
    return await _receive(rt, gateway, token, request)


@router.post(
    "/sms/dlr/{gateway}/{token}",
    operation_id="delivery_report_post",
    summary="A delivery report from an HTTP gateway (fields in a JSON object or a form)",
    description=_DESCRIPTION,
    response_model=DlrAnswer,
    responses=_REPORT_ERRORS,
    openapi_extra=_REPORT_BODY,
)
async def delivery_report_post(
    rt: Rt, gateway: Gateway, token: Token, request: Request
) -> Envelope[DlrOut, NoDetail]:
    return await _receive(rt, gateway, token, request)


@router.post(
    "/sms/gateways/{name}/dlr-token",
    operation_id="rotate_dlr_token",
    summary="A new delivery report token for an HTTP gateway (shown once; the old one stops)",
    response_model=DlrTokenAnswer,
    responses={
        **ERRORS,
        409: error_doc(
            409,
            905,
            "The gateway is not an HTTP gateway (an SMPP gateway reports on its session)",
            "ERR905: Invalid parameter: name: gateway 'smsc' is not an HTTP gateway",
        ),
    },
)
async def rotate_dlr_token(
    rt: Rt,
    name: Annotated[str, Path(min_length=1, max_length=MAX_NAME)],
    caller: Annotated[Caller, Depends(allow("dlrtoken_write"))],
) -> Envelope[DlrTokenOut, NoDetail]:
    return ok(await dlr.rotate_token(rt, name, caller))
