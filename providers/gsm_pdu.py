"""SMS in 3GPP terms: SMS-SUBMIT PDUs (TS 23.040), GSM-7 (TS 23.038) or UCS-2, error causes."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["gsm7", "ucs2"]

# TS 23.038 6.2.1, indexed by septet value; 0x1B is the escape to the extension table.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}
ESC = 0x1B
_SEPTETS: dict[str, tuple[int, ...]] = {
    char: (code,) for code, char in enumerate(GSM7_BASIC) if code != ESC
} | {char: (ESC, code) for code, char in GSM7_EXTENSION.items()}

SINGLE = {"gsm7": 160, "ucs2": 70}  # septets / UTF-16 units in one SMS
PART = {"gsm7": 153, "ucs2": 67}  # ... in one part, after the 6-octet concatenation header
MAX_PARTS = 255  # the 8-bit part counter of the header
_NUMBER = re.compile(r"^\+?[0-9*#]{1,20}$")


def gsm7_septets(text: str) -> list[int] | None:
    """The septets of `text` in the default alphabet, or None if a character is not in it."""
    septets: list[int] = []
    for char in text:
        codes = _SEPTETS.get(char)
        if codes is None:
            return None
        septets.extend(codes)
    return septets


def gsm7_decode(septets: Sequence[int]) -> str:
    """Characters of a septet sequence, extension table included."""
    chars: list[str] = []
    escaped = False
    for septet in septets:
        if escaped:
            chars.append(GSM7_EXTENSION.get(septet, GSM7_BASIC[septet]))
            escaped = False
        elif septet == ESC:
            escaped = True
        else:
            chars.append(GSM7_BASIC[septet])
    return "".join(chars)


def pack_septets(septets: Sequence[int], fill_bits: int = 0) -> bytes:
    """Pack septets LSB first, after `fill_bits` zero bits (which align them after a UDH)."""
    value = 0
    for index, septet in enumerate(septets):
        value |= (septet & 0x7F) << (fill_bits + 7 * index)
    return value.to_bytes((fill_bits + 7 * len(septets) + 7) // 8, "little")


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    """The first `count` septets packed in `data` after `fill_bits` bits."""
    value = int.from_bytes(data, "little") >> fill_bits
    return [(value >> (7 * index)) & 0x7F for index in range(count)]


def text_mode_bytes(text: str) -> bytes | None:
    """The bytes to type at a text-mode prompt (AT+CSCS="GSM"), or None if PDU mode is needed.

    Only single SMS whose septets are all 0x20-0x7F qualify: below that lie NUL ('@'),
    backspace ('ò'), CR, Ctrl-Z ('Ξ') and ESC, which terminal adapters edit, drop or obey.
    """
    septets = gsm7_septets(text)
    if septets is None or len(septets) > SINGLE["gsm7"] or any(s < 0x20 for s in septets):
        return None
    return bytes(septets)


def _chunks(text: str, cost: Callable[[str], int], limit: int) -> list[str]:
    # Split by characters, never inside an escape pair or a surrogate pair.
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        size = cost(char)
        if used + size > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += size
    parts.append("".join(current))
    return parts


def _gsm7_cost(char: str) -> int:
    return len(_SEPTETS[char])


def _ucs2_cost(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1  # a surrogate pair


def split(text: str) -> tuple[Encoding, list[str]]:
    """The encoding `text` needs and its parts: one if it fits a single SMS."""
    septets = gsm7_septets(text)
    encoding: Encoding = "ucs2" if septets is None else "gsm7"
    cost = _ucs2_cost if septets is None else _gsm7_cost
    size = sum(map(cost, text))
    if size <= SINGLE[encoding]:
        return encoding, [text]
    parts = _chunks(text, cost, PART[encoding])
    if len(parts) > MAX_PARTS:
        raise ValueError(f"message needs {len(parts)} parts, more than {MAX_PARTS}")
    return encoding, parts


def encode_number(number: str) -> bytes:
    """TP-DA: digit count, type of number (international if '+'), swapped semi-octets."""
    if not _NUMBER.fullmatch(number):  # fullmatch: "$" alone would let a final "\n" pass
        raise ValueError(f"not a phone number: {number!r}")
    international = number.startswith("+")
    digits = number.lstrip("+").replace("*", "A").replace("#", "B")
    padded = digits + "F" * (len(digits) % 2)
    swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
    return bytes([len(digits), 0x91 if international else 0x81]) + bytes.fromhex(swapped)


@dataclass(frozen=True)
class Pdu:
    """One SMS-SUBMIT as typed after AT+CMGS=<length>."""

    hex: str  # with a zero-length SMSC field: the modem's (AT+CSCA) is used
    length: int  # octets of the TPDU, excluding the SMSC field, as AT+CMGS wants


def submit_pdus(number: str, text: str, reference: int) -> list[Pdu]:
    """SMS-SUBMIT PDUs for `text`; several, with concatenation headers, if it is long."""
    address = encode_number(number)
    encoding, parts = split(text)
    pdus = []
    for seq, part in enumerate(parts, start=1):
        header = b""
        if len(parts) > 1:  # IEI 00: concatenated SM, 8-bit reference
            header = bytes([5, 0x00, 3, reference & 0xFF, len(parts), seq])
        if encoding == "gsm7":
            septets = gsm7_septets(part) or []
            fill = (7 - len(header) * 8 % 7) % 7
            user_data = header + pack_septets(septets, fill)
            length = (len(header) * 8 + fill) // 7 + len(septets)  # TP-UDL counts septets
            dcs = 0x00
        else:
            user_data = header + part.encode("utf-16-be")
            length = len(user_data)  # TP-UDL counts octets
            dcs = 0x08
        # TP-MTI SUBMIT, no validity period, TP-UDHI when a header is present; TP-MR 0.
        first = 0x01 | (0x40 if header else 0)
        tpdu = bytes([first, 0x00]) + address + bytes([0x00, dcs, length]) + user_data
        pdus.append(Pdu(hex="00" + tpdu.hex().upper(), length=len(tpdu)))
    return pdus


# +CMS ERROR (3GPP TS 27.005 3.2.5): 0-127 are RP-causes, retryable where TS 24.011 table 8.4
# calls them temporary; 128-255 are TP-FCS (TS 23.040 9.2.3.22); 300-511 the modem's own.
# Codes from 512 up are manufacturer-specific and mostly "network busy": retried.
_CMS = {
    1: "unassigned number", 8: "operator determined barring", 10: "call barred",
    21: "short message transfer rejected", 27: "destination out of service",
    28: "unidentified subscriber", 29: "facility rejected", 30: "unknown subscriber",
    38: "network out of order", 41: "temporary failure", 42: "congestion",
    47: "resources unavailable", 50: "facility not subscribed", 69: "facility not implemented",
    96: "invalid mandatory information", 192: "SC busy", 193: "no SC subscription",
    194: "SC system failure", 195: "invalid SME address", 196: "destination SME barred",
    212: "SIM toolkit busy", 300: "ME failure", 301: "SMS service of ME reserved",
    302: "operation not allowed", 303: "operation not supported",
    304: "invalid PDU mode parameter", 305: "invalid text mode parameter",
    310: "SIM not inserted", 311: "SIM PIN required", 313: "SIM failure", 314: "SIM busy",
    316: "SIM PUK required", 322: "memory full", 330: "SMSC address unknown",
    331: "no network service", 332: "network timeout", 500: "unknown error",
}  # fmt: skip
# 311 (SIM PIN required) too: the modem rebooted, and the next send enters the PIN again.
_CMS_RETRYABLE = {27, 38, 41, 42, 47, 192, 194, 212, 300, 301, 311, 314, 331, 332, 500}
# The network's verdict on the destination itself: another gateway would hear the same.
_CMS_NUMBER = {1, 8, 10, 21, 28, 29, 30, 195, 196}
# +CME ERROR (TS 27.007 9.2): only a busy SIM or a missing network may heal by itself.
_CME = {
    3: "operation not allowed", 4: "operation not supported", 10: "SIM not inserted",
    11: "SIM PIN required", 12: "SIM PUK required", 13: "SIM failure", 14: "SIM busy",
    15: "SIM wrong", 16: "incorrect password", 30: "no network service",
    31: "network timeout", 100: "unknown",
}  # fmt: skip
_CME_RETRYABLE = {14, 30, 31, 100}


def error_cause(family: Literal["cms", "cme"], code: int) -> tuple[str, bool]:
    """What a +CMS/+CME ERROR code means and whether sending again later may succeed."""
    table, retryable = (_CMS, _CMS_RETRYABLE) if family == "cms" else (_CME, _CME_RETRYABLE)
    if family == "cms" and code >= 512:
        return "manufacturer specific", True
    return table.get(code, "unknown code"), code in retryable


def rejects_number(family: Literal["cms", "cme"], code: int) -> bool:
    """Whether an error code says the destination number is invalid or barred."""
    return family == "cms" and code in _CMS_NUMBER
