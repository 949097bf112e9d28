"""SMPP delivery receipts: a deliver_sm read into a Receipt in the service's words.

The id comes from the receipted_message_id TLV when the SMSC sends one, else from the `id:`
of the receipt text (SMPP 3.4 appendix B, which every SMSC imitates loosely); the state from
the message_state TLV, else from `stat:`. SMSCs differ in how the receipt's id is written
(decimal where the submit_sm_resp gave hex, or the reverse), so RECEIPT_ID says how to bring
it back to the submit form; `submit_form` writes send()'s ids in that same form.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from providers import smpp_pdu as pdu
from providers.base import Receipt

IdForm = Literal["as_is", "hex_to_decimal", "decimal_to_hex"]

# The stat words of appendix B, and the full words some SMSCs write instead.
STAT_STATES = {
    "DELIVRD": "delivered",
    "DELIVERED": "delivered",
    "EXPIRED": "undeliverable",
    "DELETED": "undeliverable",
    "UNDELIV": "undeliverable",
    "UNDELIVERABLE": "undeliverable",
    "REJECTD": "undeliverable",
    "REJECTED": "undeliverable",
    "ACCEPTD": "accepted",
    "ACCEPTED": "accepted",
    "ENROUTE": "enroute",
    "UNKNOWN": "unknown",
}
# message_state values (5.2.28) as the stat word the receipt text would carry.
MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}

_FIELD = re.compile(r"(?i)(?:^|\s)(id|stat|err|done date):(\S*)")
_TEXT = re.compile(r"(?i)(?:^|\s)text:")  # the message's first characters: may read like fields
_DIGITS = {10: re.compile(r"[0-9]+"), 16: re.compile(r"[0-9A-Fa-f]+")}
MAX_ID = 65  # receipted_message_id is a C-octet string of 65 octets at most (5.3.2.12)


class UnreadableReceipt(ValueError):
    """A receipt that names no message or no state this gateway can read."""


def submit_form(message_id: str, form: IdForm) -> str:
    """A submit_sm_resp message_id as send() reports it: one canonical spelling of the number
    when the receipts write it in the other base (no leading zeros, hex in lower case), so that
    the receipt's id, converted, is equal to it; as given when it is not such a number."""
    base = {"as_is": 0, "hex_to_decimal": 10, "decimal_to_hex": 16}[form]
    if not base or not _DIGITS[base].fullmatch(message_id):
        return message_id
    number = int(message_id, base)
    return str(number) if base == 10 else f"{number:x}"


def _converted(receipt_id: str, form: IdForm) -> str:
    if form == "as_is":
        return receipt_id
    base = 16 if form == "hex_to_decimal" else 10
    if not _DIGITS[base].fullmatch(receipt_id):
        kind = "hexadecimal" if base == 16 else "decimal"
        raise UnreadableReceipt(f"receipt id {receipt_id!r} is not {kind}")
    number = int(receipt_id, base)
    return str(number) if base == 16 else f"{number:x}"


def _done_at(value: str) -> datetime | None:
    """`done date` is YYMMDDhhmm (appendix B), some SMSCs add seconds; read as UTC."""
    layouts = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}
    layout = layouts.get(len(value))
    if layout is None:
        return None
    try:
        return datetime.strptime(value, layout).replace(tzinfo=UTC)
    except ValueError:
        return None


def read(deliver: pdu.DeliverSm, form: IdForm) -> Receipt:
    """The receipt a deliver_sm carries; UnreadableReceipt when it names no id or state."""
    text = _TEXT.split(deliver.text(), maxsplit=1)[0]
    fields: dict[str, str] = {}
    for key, value in _FIELD.findall(text):
        fields.setdefault(key.lower(), value)
    receipt_id = fields.get("id", "")
    if pdu.TLV_RECEIPTED_MESSAGE_ID in deliver.tlvs:
        raw = deliver.tlvs[pdu.TLV_RECEIPTED_MESSAGE_ID]
        receipt_id = raw.split(b"\0", 1)[0].decode("ascii", "replace")
    if not receipt_id:
        raise UnreadableReceipt("no receipted_message_id and no id: in the text")
    if len(receipt_id) > MAX_ID or not receipt_id.isprintable():
        raise UnreadableReceipt(f"receipt id {receipt_id[:MAX_ID]!r}... is not an SMPP message id")
    stat = fields.get("stat", "").upper()
    if pdu.TLV_MESSAGE_STATE in deliver.tlvs:
        value = deliver.tlvs[pdu.TLV_MESSAGE_STATE]
        if len(value) != 1 or value[0] not in MESSAGE_STATES:
            raise UnreadableReceipt(f"message_state {value.hex() or 'empty'} is not one of 5.2.28")
        stat = MESSAGE_STATES[value[0]]
    if not stat:
        raise UnreadableReceipt("no message_state and no stat: in the text")
    if stat not in STAT_STATES:
        raise UnreadableReceipt(f"stat {stat[:20]!r} is not a receipt state")
    error = fields.get("err", "")
    return Receipt(
        provider_id=_converted(receipt_id, form),
        state=STAT_STATES[stat],
        provider_status=stat,
        reported_at=_done_at(fields.get("done date", "")),
        error="" if error.strip("0") == "" else error,
    )
