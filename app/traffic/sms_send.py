"""/sms/send under the challenge rules, per calling admin: off unless the settings say so,
so that an admin key leaked to a script cannot pump either."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.errors import SmsgwError
from app.traffic.guard import Refused, plan, settle

if TYPE_CHECKING:
    from app.runtime import Runtime


class SendBlocked(SmsgwError):
    """/sms/send refused by a traffic rule (when the rules cover /sms/send)."""

    status, code = 429, 802


async def check_send(rt: Runtime, phone: str, caller: str, ip: str) -> None:
    """Put an /sms/send under the counting rules, per caller; off unless enabled."""
    policy = await rt.traffic.policy()
    if not policy.settings.sms_send:
        return
    who = {"actor": caller, "client_ip": ip}
    try:
        planned = await plan(rt, phone=phone, user=caller, ip=ip, for_challenge=False)
        hits = await rt.db.write(planned.admit)
    except Refused as refused:
        await settle(rt, refused.hits, refused, **who)
        raise SendBlocked(refused.message.replace("The SMS was not sent", "Not sent")) from None
    if hits:
        await settle(rt, hits, None, **who)
