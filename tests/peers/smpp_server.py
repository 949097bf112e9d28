"""An SMSC for the tests, on asyncio streams, with its own reading and writing of PDUs.

Nothing here comes from providers/smpp_pdu.py: the PDUs are taken apart and put together
with struct, straight from the SMPP 3.4 specification, so a bug shared by an encoder and
its own decoder cannot pass. It binds transmitters, receivers and transceivers, records
submit_sm (decoded), answers enquire_link and unbind, and gives any answer a test asks for.

Delivery receipts go out as deliver_sm to the last receiver or transceiver bound:
- `await smsc.send_receipt(message_id, "DELIVRD")` on demand (`form="text"`, `"tlv"` or
  `"both"`; `err`, `done_date`, `text_id` to vary the text); `await smsc.deliver(body)` for
  any body (`malformed_receipts()` holds a few), `send_mobile_originated(text)` for an MO;
- `auto_receipt = "DELIVRD"`: one after the submit_sm_resp of every submit_sm that asked for
  a receipt (registered_delivery), `receipt_before_answer = "ACCEPTD"`: one before it;
- every deliver_sm_resp that comes back is in `receipt_answers` (sequence, status, body).
`receivers` counts the sessions bound now that can take a deliver_sm (wait for it before
sending one), `bound` lists the kind of every bind, `given_ids` every submit_sm_resp id;
`message_ids` = "text" (msg-1), "hex" (000000A1) or "decimal" (1001) sets their form.
`drop_connections()` and `unbind_clients()` end the sessions, as a failing SMSC would.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from dataclasses import dataclass, field
from typing import Any

# SMPP 3.4 section 5.1.2.1: command_id values.
BIND_RECEIVER, BIND_TRANSMITTER, SUBMIT_SM, DELIVER_SM = 0x01, 0x02, 0x04, 0x05
UNBIND, BIND_TRANSCEIVER, ENQUIRE_LINK = 0x06, 0x09, 0x15
GENERIC_NACK = RESPONSE = 0x80000000
DELIVER_SM_RESP = DELIVER_SM | RESPONSE
BINDS = {
    BIND_RECEIVER: "receiver",
    BIND_TRANSMITTER: "transmitter",
    BIND_TRANSCEIVER: "transceiver",
}
# Section 5.1.3: command_status values the tests use.
ESME_RINVBNDSTS, ESME_RINVCMDID, ESME_RINVPASWD, ESME_RINVSYSID = 0x04, 0x03, 0x0E, 0x0F
ESME_RTHROTTLED = 0x58
# Section 5.2.12: esm_class of a deliver_sm carrying an SMSC delivery receipt.
ESM_SMSC_RECEIPT = 0x04
# Section 5.3.2: the optional parameters of a receipt, and message_state values (5.2.28).
RECEIPTED_MESSAGE_ID, MESSAGE_STATE = 0x001E, 0x0427
MESSAGE_STATES = {
    "ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4,
    "UNDELIV": 5, "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8,
}  # fmt: skip

# 3GPP TS 23.038 6.2.1: the GSM 7-bit default alphabet and its extension table.
_GSM7 = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = {
    0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
    0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
}  # fmt: skip
assert len(_GSM7) == 128


def gsm7_text(septets: bytes) -> str:
    """Unpacked GSM-7 (one septet per octet, as SMPP carries it) as text."""
    text, escaped = [], False
    for septet in septets:
        if escaped:
            text.append(_GSM7_EXTENSION.get(septet, " "))
            escaped = False
        elif septet == 0x1B:
            escaped = True
        else:
            text.append(_GSM7[septet])
    return "".join(text)


@dataclass(frozen=True)
class Submitted:
    """One submit_sm as it arrived, field by field (section 4.4.1)."""

    service_type: str
    source: tuple[int, int, str]  # (ton, npi, address)
    destination: tuple[int, int, str]
    esm_class: int
    data_coding: int
    registered_delivery: int
    short_message: bytes
    header: bytes  # the user data header, b"" for a single-part message
    text: str


class _Reader:
    """Takes a PDU body apart front to back."""

    def __init__(self, body: bytes) -> None:
        self.body, self.at = body, 0

    def cstring(self, limit: int) -> str:
        end = self.body.index(b"\0", self.at)
        if end - self.at >= limit:
            raise ValueError(f"C-octet string longer than {limit - 1} octets")
        value, self.at = self.body[self.at : end], end + 1
        return value.decode("ascii")

    def octet(self) -> int:
        value, self.at = self.body[self.at], self.at + 1
        return value

    def octets(self, count: int) -> bytes:
        value, self.at = self.body[self.at : self.at + count], self.at + count
        if len(value) != count:
            raise ValueError("body ends early")
        return value


def parse_submit(body: bytes) -> Submitted:
    fields = _Reader(body)
    service_type = fields.cstring(6)
    source = (fields.octet(), fields.octet(), fields.cstring(21))
    destination = (fields.octet(), fields.octet(), fields.cstring(21))
    esm_class = fields.octet()
    fields.octets(2)  # protocol_id, priority_flag
    fields.cstring(17)  # schedule_delivery_time
    fields.cstring(17)  # validity_period
    registered_delivery = fields.octet()
    fields.octet()  # replace_if_present_flag
    data_coding = fields.octet()
    fields.octet()  # sm_default_msg_id
    short_message = fields.octets(fields.octet())
    if fields.at != len(body):
        raise ValueError("octets after short_message")
    header, user_data = b"", short_message
    if esm_class & 0x40:  # UDHI: the first octet is the header's length
        header, user_data = (
            short_message[: short_message[0] + 1],
            short_message[short_message[0] + 1 :],
        )
    text = user_data.decode("utf-16-be") if data_coding == 0x08 else gsm7_text(user_data)
    return Submitted(
        service_type, source, destination, esm_class, data_coding, registered_delivery,
        short_message, header, text,
    )  # fmt: skip


def encode(command_id: int, status: int, sequence: int, body: bytes = b"") -> bytes:
    return struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body


def receipt_text(
    message_id: str, stat: str, *, err: str = "000", done_date: str = "2611302201"
) -> bytes:
    """The receipt text of appendix B, as SMSCs write it."""
    delivered = "001" if stat == "DELIVRD" else "000"
    return (
        f"id:{message_id} sub:001 dlvrd:{delivered} submit date:2611302200 "
        f"done date:{done_date} stat:{stat} err:{err} text:Code 123456"
    ).encode("ascii")


def deliver_sm_body(
    source: tuple[int, int, str],
    destination: tuple[int, int, str],
    esm_class: int,
    short_message: bytes,
    tlvs: tuple[tuple[int, bytes], ...] = (),
) -> bytes:
    """A deliver_sm body (section 4.6.1), optional parameters after the short message."""
    return (
        b"\0"  # service_type
        + bytes(source[:2]) + source[2].encode("ascii") + b"\0"
        + bytes(destination[:2]) + destination[2].encode("ascii") + b"\0"
        + bytes([esm_class, 0, 0])  # esm_class, protocol_id, priority_flag
        + b"\0\0"  # schedule_delivery_time, validity_period: NULL in a deliver_sm
        + bytes([0, 0, 0, 0])  # registered_delivery, replace_if_present, data_coding, default
        + bytes([len(short_message)]) + short_message
        + b"".join(struct.pack(">HH", tag, len(value)) + value for tag, value in tlvs)
    )  # fmt: skip


def receipt_body(
    message_id: str,
    stat: str,
    *,
    form: str = "text",
    phone: str = "491701234567",
    err: str = "000",
    done_date: str = "2611302201",
    text_id: str | None = None,
) -> bytes:
    """A delivery receipt: `form` "text" (appendix B), "tlv" (receipted_message_id and
    message_state, no text) or "both"; `text_id` puts another id in the text."""
    text = b""
    if form in ("text", "both"):
        text = receipt_text(text_id or message_id, stat, err=err, done_date=done_date)
    tlvs: tuple[tuple[int, bytes], ...] = ()
    if form in ("tlv", "both"):
        tlvs = (
            (RECEIPTED_MESSAGE_ID, message_id.encode("ascii") + b"\0"),
            (MESSAGE_STATE, bytes([MESSAGE_STATES[stat]])),
        )
    return deliver_sm_body((1, 1, phone), (5, 0, "smsgw"), ESM_SMSC_RECEIPT, text, tlvs)


def malformed_receipts() -> dict[str, bytes]:
    """deliver_sm bodies a provider cannot read as a receipt, by what is wrong with them."""
    good = receipt_body("msg-1", "DELIVRD")
    return {
        "cut short": good[:20],
        "no id": deliver_sm_body(
            (1, 1, "491701234567"), (5, 0, "smsgw"), ESM_SMSC_RECEIPT,
            b"sub:001 dlvrd:001 stat:DELIVRD err:000",
        ),
        "no stat": deliver_sm_body(
            (1, 1, "491701234567"), (5, 0, "smsgw"), ESM_SMSC_RECEIPT, b"id:msg-1 err:000"
        ),
        "unknown stat": receipt_body("msg-1", "DELIVRD").replace(b"DELIVRD", b"PARTYING"),
        "TLV longer than the body": deliver_sm_body(
            (1, 1, "491701234567"), (5, 0, "smsgw"), ESM_SMSC_RECEIPT, b"",
            ((RECEIPTED_MESSAGE_ID, b"msg-1\0"),),
        )[:-2],
        "message_state out of range": deliver_sm_body(
            (1, 1, "491701234567"), (5, 0, "smsgw"), ESM_SMSC_RECEIPT, b"",
            ((RECEIPTED_MESSAGE_ID, b"msg-1\0"), (MESSAGE_STATE, b"\x09")),
        ),
    }  # fmt: skip


@dataclass(frozen=True)
class ReceiptAnswer:
    """A deliver_sm_resp as the client sent it (section 4.6.2)."""

    sequence: int
    status: int
    body: bytes


@dataclass(eq=False)
class _Client:
    writer: asyncio.StreamWriter
    bound: str = ""  # "transmitter", "receiver", "transceiver" once bound


@dataclass
class SmppServer:
    system_id: str = "smsgw"
    password: str = "secret"
    delay: float = 0.0
    throttle_next: int = 0  # answer this many submits with ESME_RTHROTTLED
    fail_with: int = 0  # answer every submit with this status
    bind_status: int = 0  # answer every bind with this status
    message_id_nul: bool = True  # False: the message id of submit_sm_resp lacks its NUL
    message_ids: str = "text"  # "text": msg-1; "hex": 000000A1; "decimal": 1001
    drop_on_submit: bool = False  # close the connection when a submit arrives, unanswered
    silent: bool = False  # never answer a submit
    silent_bind: bool = False  # never answer a bind
    auto_receipt: str = ""  # a stat word: a receipt after each submit_sm_resp, if asked for
    receipt_before_answer: str = ""  # a stat word: a receipt before the submit_sm_resp
    binds: int = 0
    unbinds: int = 0
    enquire_links: int = 0
    outstanding: int = 0
    max_outstanding: int = 0
    connections: int = 0  # open now
    bound: list[str] = field(default_factory=list)  # the kind of every successful bind
    submitted: list[Submitted] = field(default_factory=list)
    given_ids: list[str] = field(default_factory=list)  # message_id of each submit_sm_resp
    client_answers: list[tuple[int, int, int]] = field(default_factory=list)
    receipt_answers: list[ReceiptAnswer] = field(default_factory=list)
    receipts_sent: int = 0  # deliver_sm written
    port: int = 0
    _server: asyncio.Server | None = None
    _clients: list[_Client] = field(default_factory=list)
    _by_id: dict[str, Submitted] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _sequences: itertools.count[int] = field(default_factory=lambda: itertools.count(5000))

    async def start(self) -> SmppServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_connections(self) -> None:
        for client in self._clients:
            client.writer.close()
        self._clients.clear()

    @property
    def receivers(self) -> int:
        """Sessions bound now that may be sent a deliver_sm (receivers and transceivers)."""
        return sum(1 for c in self._clients if c.bound in ("receiver", "transceiver"))

    async def enquire_clients(self) -> None:
        """Send our own enquire_link to every client; they must answer it."""
        for client in self._clients:
            client.writer.write(encode(ENQUIRE_LINK, 0, 9000))
            await client.writer.drain()

    async def unbind_clients(self) -> None:
        """Send our own unbind to every client, as an SMSC going down for maintenance does."""
        for client in self._clients:
            client.writer.write(encode(UNBIND, 0, next(self._sequences)))
            await client.writer.drain()

    async def deliver(self, body: bytes) -> int:
        """Send a deliver_sm with this body to the last receiver or transceiver bound; its
        sequence number (the deliver_sm_resp must carry the same)."""
        receiving = [c for c in self._clients if c.bound in ("receiver", "transceiver")]
        if not receiving:
            raise AssertionError("no receiver or transceiver is bound to send a deliver_sm to")
        sequence = next(self._sequences)
        writer = receiving[-1].writer
        writer.write(encode(DELIVER_SM, 0, sequence, body))
        self.receipts_sent += 1
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return sequence

    async def send_receipt(self, message_id: str, stat: str = "DELIVRD", **options: Any) -> int:
        """A delivery receipt for `message_id` (see `receipt_body` for the options)."""
        return await self.deliver(receipt_body(message_id, stat, **options))

    async def send_mobile_originated(self, text: str) -> int:
        """A deliver_sm that is no receipt: a message from a phone."""
        body = deliver_sm_body((1, 1, "491701234567"), (5, 0, "smsgw"), 0, text.encode("ascii"))
        return await self.deliver(body)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        self._clients.append(client)
        self.connections += 1
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                length, command_id, status, sequence = struct.unpack(
                    ">IIII", await reader.readexactly(16)
                )
                body = await reader.readexactly(length - 16)
                if command_id & RESPONSE:
                    self.client_answers.append((command_id, status, sequence))
                    if command_id == DELIVER_SM_RESP:
                        self.receipt_answers.append(ReceiptAnswer(sequence, status, body))
                    continue
                task = asyncio.get_running_loop().create_task(
                    self._answer(command_id, sequence, body, client)
                )
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.connections -= 1
            client.bound = ""
            with contextlib.suppress(ValueError):
                self._clients.remove(client)
            for task in list(tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, command_id: int, sequence: int, body: bytes, client: _Client) -> None:
        status, answer = 0, b""
        writer = client.writer
        if command_id in BINDS:
            if self.silent_bind:
                return
            status, answer = self._bind(body)
            if not status:
                client.bound = BINDS[command_id]
                self.bound.append(client.bound)
        elif command_id == SUBMIT_SM:
            if self.drop_on_submit:
                writer.close()
                return
            if self.silent:
                return
            if client.bound not in ("transmitter", "transceiver"):
                status = ESME_RINVBNDSTS
            else:
                status, answer = await self._submit(body)
        elif command_id == ENQUIRE_LINK:
            self.enquire_links += 1
        elif command_id == UNBIND:
            self.unbinds += 1
        else:
            status = ESME_RINVCMDID
        writer.write(encode(command_id | RESPONSE, status, sequence, answer))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        if command_id == SUBMIT_SM and not status and self.auto_receipt:
            await self._receipt_if_asked(answer.rstrip(b"\0").decode(), self.auto_receipt)

    async def _receipt_if_asked(self, message_id: str, stat: str) -> None:
        submitted = self._by_id.get(message_id)
        if submitted is not None and submitted.registered_delivery & 0x01:
            await self.send_receipt(message_id, stat, phone=submitted.destination[2])

    def _bind(self, body: bytes) -> tuple[int, bytes]:
        fields = _Reader(body)
        system_id, password = fields.cstring(16), fields.cstring(9)
        self.binds += 1
        if self.bind_status:
            return self.bind_status, b""
        if system_id != self.system_id:
            return ESME_RINVSYSID, b""
        if password != self.password:
            return ESME_RINVPASWD, b""
        return 0, b"test-smsc\0"

    def _message_id(self) -> str:
        number = next(self._ids)
        if self.message_ids == "hex":
            return f"{number + 0xA0:08X}"
        if self.message_ids == "decimal":
            return str(number + 1000)
        return f"msg-{number}"

    async def _submit(self, body: bytes) -> tuple[int, bytes]:
        self.outstanding += 1
        self.max_outstanding = max(self.max_outstanding, self.outstanding)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return ESME_RTHROTTLED, b""
            if self.fail_with:
                return self.fail_with, b""
            self.submitted.append(parse_submit(body))
            message_id = self._message_id()
            self._by_id[message_id] = self.submitted[-1]
            self.given_ids.append(message_id)
            if self.receipt_before_answer:
                await self._receipt_if_asked(message_id, self.receipt_before_answer)
            return 0, message_id.encode() + (b"\0" if self.message_id_nul else b"")
        finally:
            self.outstanding -= 1
