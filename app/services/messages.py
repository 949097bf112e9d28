"""/sms: send one message through a named gateway; read the message log."""

from __future__ import annotations

from datetime import datetime

from app.db import message_repo
from app.errors import GatewayFailed
from app.runtime import Runtime
from app.schemas.sms import MessageOut, MessagePage, SmsIn
from app.security.caller import Caller
from app.services import dispatch
from app.services.paging import neighbours
from app.services.phone import normalise
from app.traffic.sms_send import check_send


async def send(rt: Runtime, form: SmsIn, caller: Caller) -> MessageOut:
    """Send and answer the log record; a failed send is a 502 naming the gateway."""
    phone = normalise(form.phone)
    await check_send(rt, phone, caller.name, caller.ip)
    outgoing = dispatch.Outgoing(
        gateway=form.gateway, phone=phone, message=form.message, source="api"
    )
    record = await dispatch.send(rt, outgoing)
    if record.status == "failed":
        raise GatewayFailed(
            f"SMS gateway {form.gateway!r} could not send (message {record.id}): {record.error}"
        )
    return record


async def page(
    rt: Runtime,
    *,
    gateway: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    page: int,
    pagesize: int,
) -> MessagePage:
    total, rows = await rt.db.read(
        lambda tx: message_repo.page(
            tx,
            gateway=gateway,
            status=status,
            since=since,
            until=until,
            offset=(page - 1) * pagesize,
            limit=pagesize,
        )
    )
    following, previous = neighbours(total, page, pagesize)
    return MessagePage(
        messages=[dispatch.to_out(r.model_dump()) for r in rows],
        count=total,
        current=page,
        next=following,
        prev=previous,
    )
