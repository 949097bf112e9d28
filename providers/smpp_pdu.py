"""SMPP 3.4 PDUs: the header, the operations a transmitter needs, C-octet strings, and the
command statuses worth naming. Encoding and decoding only; the session is in smpp.py."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from providers import gsm_pdu

BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
UNBIND = 0x00000006
ENQUIRE_LINK = 0x00000015
GENERIC_NACK = 0x80000000
RESPONSE = 0x80000000  # set in the command id of every response

INTERFACE_VERSION = 0x34
ESM_UDHI = 0x40  # the short message starts with a user data header
DATA_CODING = {"gsm7": 0x00, "ucs2": 0x08}
MAX_PDU = 64 * 1024  # far above any PDU a transmitter receives; more means a broken peer

_HEADER = struct.Struct(">IIII")

STATUS = {
    0x00: "ESME_ROK",
    0x01: "ESME_RINVMSGLEN",
    0x02: "ESME_RINVCMDLEN",
    0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS",
    0x05: "ESME_RALYBND",
    0x08: "ESME_RSYSERR",
    0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR",
    0x0D: "ESME_RBINDFAIL",
    0x0E: "ESME_RINVPASWD",
    0x0F: "ESME_RINVSYSID",
    0x14: "ESME_RMSGQFUL",
    0x45: "ESME_RSUBMITFAIL",
    0x58: "ESME_RTHROTTLED",
    0x61: "ESME_RINVSCHED",
    0x62: "ESME_RINVEXPIRY",
    0x64: "ESME_RX_T_APPN",
    0x65: "ESME_RX_P_APPN",
    0x66: "ESME_RX_R_APPN",
}
THROTTLED, QUEUE_FULL = 0x58, 0x14
# Statuses that blame the destination address itself (ESME_RINVDSTADR).
BAD_DESTINATION = {0x0B}
# Statuses after which the same message may well pass later.
TRANSIENT = {0x08, QUEUE_FULL, 0x45, THROTTLED, 0x64}


def status_name(status: int) -> str:
    return STATUS.get(status, f"status 0x{status:08X}")


@dataclass(frozen=True)
class Pdu:
    command_id: int
    status: int
    sequence: int
    body: bytes = b""

    def encode(self) -> bytes:
        header = _HEADER.pack(16 + len(self.body), self.command_id, self.status, self.sequence)
        return header + self.body


class PduError(ValueError):
    """The bytes are not a PDU this codec understands."""


async def read_pdu(reader: asyncio.StreamReader) -> Pdu:
    """One PDU from the stream; IncompleteReadError when the peer closes."""
    header = await reader.readexactly(16)
    length, command_id, status, sequence = _HEADER.unpack(header)
    if not 16 <= length <= MAX_PDU:
        raise PduError(f"command_length {length} out of range")
    body = await reader.readexactly(length - 16) if length > 16 else b""
    return Pdu(command_id, status, sequence, body)


def cstring(value: str, limit: int) -> bytes:
    """A C-octet string of at most `limit` octets including the terminating NUL."""
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        raise PduError(f"{value!r} is not ASCII, as a C-octet string must be") from None
    if len(data) >= limit or b"\0" in data:
        raise PduError(f"{value!r} does not fit a C-octet string of {limit} octets")
    return data + b"\0"


class Fields:
    """Reads a body front to back: C-octet strings and single octets."""

    def __init__(self, body: bytes) -> None:
        self.body, self.at = body, 0

    def cstring(self) -> str:
        end = self.body.find(b"\0", self.at)
        if end < 0:
            raise PduError("C-octet string without its terminating NUL")
        value, self.at = self.body[self.at : end].decode("ascii", "replace"), end + 1
        return value

    def octet(self) -> int:
        if self.at >= len(self.body):
            raise PduError("body ends early")
        value, self.at = self.body[self.at], self.at + 1
        return value

    def octets(self, count: int) -> bytes:
        value, self.at = self.body[self.at : self.at + count], self.at + count
        return value


def bind_transmitter(
    sequence: int, system_id: str, password: str, system_type: str, ton: int, npi: int
) -> Pdu:
    body = (
        cstring(system_id, 16)
        + cstring(password, 9)
        + cstring(system_type, 13)
        + bytes([INTERFACE_VERSION, ton, npi])
        + cstring("", 41)
    )
    return Pdu(BIND_TRANSMITTER, 0, sequence, body)


@dataclass(frozen=True)
class Address:
    ton: int
    npi: int
    address: str


@dataclass(frozen=True)
class SubmitSm:
    source: Address
    destination: Address
    esm_class: int
    data_coding: int
    short_message: bytes
    registered_delivery: int = 0

    def pdu(self, sequence: int) -> Pdu:
        if len(self.short_message) > 254:
            raise PduError("short_message longer than 254 octets")
        body = (
            cstring("", 6)  # service_type: the SMSC's default
            + bytes([self.source.ton, self.source.npi])
            + cstring(self.source.address, 21)
            + bytes([self.destination.ton, self.destination.npi])
            + cstring(self.destination.address, 21)
            + bytes([self.esm_class, 0, 0])  # esm_class, protocol_id, priority_flag
            + cstring("", 17)  # schedule_delivery_time: now
            + cstring("", 17)  # validity_period: the SMSC's default
            + bytes([self.registered_delivery, 0, self.data_coding, 0, len(self.short_message)])
            + self.short_message
        )
        return Pdu(SUBMIT_SM, 0, sequence, body)

    @classmethod
    def parse(cls, body: bytes) -> SubmitSm:
        fields = Fields(body)
        fields.cstring()  # service_type
        source = Address(fields.octet(), fields.octet(), fields.cstring())
        destination = Address(fields.octet(), fields.octet(), fields.cstring())
        esm_class = fields.octet()
        fields.octets(2)  # protocol_id, priority_flag
        fields.cstring()  # schedule_delivery_time
        fields.cstring()  # validity_period
        registered_delivery = fields.octet()
        fields.octet()  # replace_if_present_flag
        data_coding = fields.octet()
        fields.octet()  # sm_default_msg_id
        message = fields.octets(fields.octet())
        return cls(source, destination, esm_class, data_coding, message, registered_delivery)


def short_messages(text: str, reference: int) -> tuple[int, list[tuple[int, bytes]]]:
    """data_coding and (esm_class, short_message) per part: GSM-7 unpacked, one septet per
    octet, or UCS-2; more than one part each start with a concatenation header."""
    encoding, parts = gsm_pdu.split(text)
    encoded = [
        bytes(gsm_pdu.gsm7_septets(part) or []) if encoding == "gsm7" else part.encode("utf-16-be")
        for part in parts
    ]
    if len(encoded) == 1:
        return DATA_CODING[encoding], [(0, encoded[0])]
    total = len(encoded)
    return DATA_CODING[encoding], [
        (ESM_UDHI, bytes([0x05, 0x00, 0x03, reference & 0xFF, total, number]) + data)
        for number, data in enumerate(encoded, start=1)
    ]


def decode_text(data_coding: int, esm_class: int, short_message: bytes) -> tuple[bytes, str]:
    """The user data header (or b"") and the text of a short message."""
    header = b""
    if esm_class & ESM_UDHI:
        header, short_message = (
            short_message[: short_message[0] + 1],
            short_message[short_message[0] + 1 :],
        )
    if data_coding == DATA_CODING["ucs2"]:
        return header, short_message.decode("utf-16-be")
    return header, gsm_pdu.gsm7_decode(list(short_message))
