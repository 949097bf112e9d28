"""/sms: send through a named gateway, and the message log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response

from app.api.deps import Rt, allow
from app.api.envelope import ERRORS, error_doc, ok
from app.schemas.envelope import Envelope, NoDetail
from app.schemas.sms import DateTimeText, MessageOut, MessagePage, MessageStatus, SmsIn
from app.security.caller import Caller
from app.services import messages

router = APIRouter(prefix="/sms", tags=["sms"])


class MessageAnswer(Envelope[MessageOut, NoDetail]):
    """result.value is the message-log record of the send."""


class MessagePageAnswer(Envelope[MessagePage, NoDetail]):
    """result.value is one page of the message log, newest first."""


@router.post(
    "/send",
    operation_id="send_sms",
    summary="Send one SMS through a gateway, or the first of several that accepts it",
    description="Synchronous by default: answers once a gateway accepted the message "
    '(failing over within `sms.inline_budget` seconds), or 502. With `"async": true` '
    "the answer is a 202 with the queued message, sent from the outbox. The same "
    "`Idempotency-Key` (per caller, 24 h) answers the first message again and sends nothing.",
    response_model=MessageAnswer,
    responses={
        **ERRORS,
        202: {"model": MessageAnswer, "description": "Queued (async): sent from the outbox"},
        422: error_doc(
            422,
            905,
            "The Idempotency-Key was used with a different request",
            "ERR905: Invalid parameter: Idempotency-Key: already used with a different "
            "request (message 12)",
        ),
        502: error_doc(
            502,
            801,
            "The gateway could not send",
            "SMS gateway 'my-gateway' could not send (message 12): http_500: ...",
        ),
        429: error_doc(
            429,
            802,
            "A traffic rule refused the send (when /sms/send is under the rules)",
            "Not sent: blocked by the traffic rule 'number_10m'.",
        ),
    },
)
async def send_sms(
    body: SmsIn,
    rt: Rt,
    caller: Annotated[Caller, Depends(allow("sms_send"))],
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", min_length=1, max_length=255)
    ] = None,
) -> Envelope[MessageOut, NoDetail]:
    record = await messages.send(rt, body, caller, idempotency_key)
    if record.status in ("queued", "sending"):
        response.status_code = 202
    return ok(record)


@router.get(
    "/messages",
    operation_id="list_messages",
    summary="The outbox: messages with their attempts (never the text)",
    response_model=MessagePageAnswer,
    responses=ERRORS,
)
async def list_messages(
    rt: Rt,
    _: Annotated[Caller, Depends(allow("messagelist"))],
    gateway: Annotated[str | None, Query(max_length=255)] = None,
    status: MessageStatus | None = None,
    transaction_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    since: Annotated[
        datetime | None, DateTimeText, Query(description="RFC 3339 date-time, inclusive")
    ] = None,
    until: Annotated[
        datetime | None, DateTimeText, Query(description="RFC 3339 date-time, exclusive")
    ] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    pagesize: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Envelope[MessagePage, NoDetail]:
    return ok(
        await messages.page(
            rt,
            gateway=gateway,
            status=status,
            transaction_id=transaction_id,
            since=since,
            until=until,
            page=page,
            pagesize=pagesize,
        )
    )
