"""An SMSC for the tests, on asyncio streams, with its own reading and writing of PDUs.

Nothing here comes from providers/smpp_pdu.py: the PDUs are taken apart and put together
with struct, straight from the SMPP 3.4 specification, so a bug shared by an encoder and
its own decoder cannot pass. It binds, records submit_sm (decoded), answers enquire_link
and unbind, and gives any answer a test asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import struct
from dataclasses import dataclass, field

# SMPP 3.4 section 5.1.2.1: command_id values.
BIND_TRANSMITTER, SUBMIT_SM, UNBIND, ENQUIRE_LINK = 0x02, 0x04, 0x06, 0x15
GENERIC_NACK = RESPONSE = 0x80000000
# Section 5.1.3: command_status values the tests use.
ESME_RINVCMDID, ESME_RINVPASWD, ESME_RINVSYSID, ESME_RTHROTTLED = 0x03, 0x0E, 0x0F, 0x58

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


@dataclass
class SmppServer:
    system_id: str = "smsgw"
    password: str = "secret"
    delay: float = 0.0
    throttle_next: int = 0  # answer this many submits with ESME_RTHROTTLED
    fail_with: int = 0  # answer every submit with this status
    bind_status: int = 0  # answer every bind with this status
    message_id_nul: bool = True  # False: the message id of submit_sm_resp lacks its NUL
    drop_on_submit: bool = False  # close the connection when a submit arrives, unanswered
    silent: bool = False  # never answer a submit
    silent_bind: bool = False  # never answer a bind
    binds: int = 0
    unbinds: int = 0
    enquire_links: int = 0
    outstanding: int = 0
    max_outstanding: int = 0
    connections: int = 0  # open now
    submitted: list[Submitted] = field(default_factory=list)
    client_answers: list[tuple[int, int, int]] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

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
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def enquire_clients(self) -> None:
        """Send our own enquire_link to every client; they must answer it."""
        for writer in self._writers:
            writer.write(encode(ENQUIRE_LINK, 0, 9000))
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
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
                    continue
                task = asyncio.get_running_loop().create_task(
                    self._answer(command_id, sequence, body, writer)
                )
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.connections -= 1
            for task in list(tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(
        self, command_id: int, sequence: int, body: bytes, writer: asyncio.StreamWriter
    ) -> None:
        status, answer = 0, b""
        if command_id == BIND_TRANSMITTER:
            if self.silent_bind:
                return
            status, answer = self._bind(body)
        elif command_id == SUBMIT_SM:
            if self.drop_on_submit:
                writer.close()
                return
            if self.silent:
                return
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
            message_id = f"msg-{next(self._ids)}".encode()
            return 0, message_id + (b"\0" if self.message_id_nul else b"")
        finally:
            self.outstanding -= 1
