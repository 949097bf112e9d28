"""SMPP 3.4 PDUs: the header, the binds, submit_sm, deliver_sm with its TLVs, C-octet strings,
and the command statuses worth naming. Encoding and decoding only; the session is in smpp.py."""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass

from providers import gsm_pdu

BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
ENQUIRE_LINK = 0x00000015
BIND_TRANSCEIVER = 0x00000009
GENERIC_NACK = 0x80000000
RESPONSE = 0x80000000  # set in the command id of every response

INTERFACE_VERSION = 0x34
ESM_UDHI = 0x40  # the short message starts with a user data header
ESM_RECEIPT = 0x04  # deliver_sm: the short message is an SMSC delivery receipt (5.2.12)
REGISTERED_DELIVERY = 0x01  # submit_sm: a receipt on success or failure (5.2.17)
# Optional parameters (5.3.2) a delivery receipt may carry.
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_MESSAGE_STATE = 0x0427
TLV_MESSAGE_PAYLOAD = 0x0424
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
        if len(value) != count:
            raise PduError("body ends early")
        return value

    def tlvs(self) -> dict[int, bytes]:
        """The optional parameters from here to the end of the body (5.3.1): tag, length, value."""
        found: dict[int, bytes] = {}
        while self.at < len(self.body):
            tag, length = struct.unpack(">HH", self.octets(4))
            found[tag] = self.octets(length)
        return found


def bind(
    command_id: int,
    sequence: int,
    system_id: str,
    password: str,
    system_type: str,
    ton: int,
    npi: int,
) -> Pdu:
    """bind_transmitter, bind_receiver or bind_transceiver: the three share their body (4.1)."""
    body = (
        cstring(system_id, 16)
        + cstring(password, 9)
        + cstring(system_type, 13)
        + bytes([INTERFACE_VERSION, ton, npi])
        + cstring("", 41)
    )
    return Pdu(command_id, 0, sequence, body)


def bind_transmitter(
    sequence: int, system_id: str, password: str, system_type: str, ton: int, npi: int
) -> Pdu:
    return bind(BIND_TRANSMITTER, sequence, system_id, password, system_type, ton, npi)


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


@dataclass(frozen=True)
class DeliverSm:
    """A deliver_sm (4.6.1): a delivery receipt or a mobile-originated message."""

    source: Address
    destination: Address
    esm_class: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]

    @property
    def is_receipt(self) -> bool:
        return bool(self.esm_class & ESM_RECEIPT)

    def text(self) -> str:
        """The short message (or message_payload) as text; receipts are ASCII in practice."""
        data = self.short_message or self.tlvs.get(TLV_MESSAGE_PAYLOAD, b"")
        if self.data_coding == DATA_CODING["ucs2"]:
            return data.decode("utf-16-be", "replace")
        return data.decode("latin-1")

    @classmethod
    def parse(cls, body: bytes) -> DeliverSm:
        fields = Fields(body)
        fields.cstring()  # service_type
        source = Address(fields.octet(), fields.octet(), fields.cstring())
        destination = Address(fields.octet(), fields.octet(), fields.cstring())
        esm_class = fields.octet()
        fields.octets(2)  # protocol_id, priority_flag
        fields.cstring()  # schedule_delivery_time: NULL in a deliver_sm
        fields.cstring()  # validity_period: NULL
        fields.octets(2)  # registered_delivery, replace_if_present_flag
        data_coding = fields.octet()
        fields.octet()  # sm_default_msg_id
        message = fields.octets(fields.octet())
        return cls(source, destination, esm_class, data_coding, message, fields.tlvs())


def deliver_sm_resp(sequence: int) -> Pdu:
    """The answer to a deliver_sm: ESME_ROK, message_id unused and NULL (4.6.2)."""
    return Pdu(DELIVER_SM | RESPONSE, 0, sequence, b"\0")


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
