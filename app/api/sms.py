"""/sms: send through a named gateway, and the message log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

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
    summary="Send one SMS through a named gateway",
    response_model=MessageAnswer,
    responses={
        **ERRORS,
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
    body: SmsIn, rt: Rt, caller: Annotated[Caller, Depends(allow("sms_send"))]
) -> Envelope[MessageOut, NoDetail]:
    return ok(await messages.send(rt, body, caller))


@router.get(
    "/messages",
    operation_id="list_messages",
    summary="The message log (never the message text)",
    response_model=MessagePageAnswer,
    responses=ERRORS,
)
async def list_messages(
    rt: Rt,
    _: Annotated[Caller, Depends(allow("messagelist"))],
    gateway: Annotated[str | None, Query(max_length=255)] = None,
    status: MessageStatus | None = None,
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
            since=since,
            until=until,
            page=page,
            pagesize=pagesize,
        )
    )
