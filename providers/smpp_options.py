"""The options of an SMPP gateway: where the SMSC is, how to bind, what to ask for."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from providers import smpp_receipt
from providers.base import ProviderOptions, secret_field

YesNo = Literal["yes", "no"]  # privacyIDEA's flags (CHECK_SSL, SEND_DATA_AS_JSON) read so
# C-octet strings are ASCII without NUL (SMPP 3.4 3.1); the address characters printable.
PRINTABLE_ASCII = frozenset(chr(code) for code in range(0x20, 0x7F))


def _ascii(value: str | None) -> str | None:
    if value and not set(value) <= PRINTABLE_ASCII:
        raise ValueError("must be printable ASCII (SMPP C-octet string)")
    return value


# How _ascii and _hexadecimal read on the wire, for the gateway schema of the document.
_ASCII: dict[str, Any] = {"x-wire-pattern": r"^[\x20-\x7e]*$"}
# Hexadecimal text up to 0xFF; a JSON integer is read as its digits, so 0..99.
_HEX: dict[str, Any] = {
    "x-wire": {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 99},
            {"type": "string", "pattern": "^(?:0[xX])?[0-9A-Fa-f]{1,2}$"},
        ]
    }
}


class SmppOptions(ProviderOptions):
    SMSC_HOST: str = Field(min_length=1, description="Host name or address of the SMSC")
    SMSC_PORT: int = Field(2775, gt=0, lt=65536, description="SMPP port of the SMSC")
    SYSTEM_ID: str = Field(
        min_length=1,
        max_length=15,
        description="ESME account (system_id)",
        json_schema_extra=_ASCII,
    )
    PASSWORD: str | None = secret_field(
        max_length=8, description="ESME password (8 octets max)", json_schema_extra=_ASCII
    )
    SYSTEM_TYPE: str = Field(
        "",
        max_length=12,
        description="system_type, if the SMSC wants one",
        json_schema_extra=_ASCII,
    )
    S_ADDR: str = Field(
        "", max_length=20, description="Source address (sender)", json_schema_extra=_ASCII
    )
    S_ADDR_TON: int = Field(
        0, ge=0, le=0xFF, description="Source TON, hex as privacyIDEA: 0x5", json_schema_extra=_HEX
    )
    S_ADDR_NPI: int = Field(
        0, ge=0, le=0xFF, description="Source NPI, hex: 0x0", json_schema_extra=_HEX
    )
    D_ADDR_TON: int = Field(
        1, ge=0, le=0xFF, description="Destination TON, hex: 0x1", json_schema_extra=_HEX
    )
    D_ADDR_NPI: int = Field(
        1, ge=0, le=0xFF, description="Destination NPI, hex: 0x1", json_schema_extra=_HEX
    )
    TIMEOUT: float = Field(10.0, gt=0, le=300, description="Seconds for a send, binding included")
    REGISTERED_DELIVERY: YesNo = Field(
        "no",
        description="yes: ask the SMSC for a delivery receipt of every part and keep a "
        "session bound to receive them",
    )
    BIND: Literal["transceiver", "transmitter"] | None = Field(
        None,
        description="transceiver: one session sends and receives receipts; transmitter: "
        "sends go on a transmitter session, receipts come on a second, receiver session. "
        "Default: transceiver with REGISTERED_DELIVERY=yes, else transmitter",
        # The validator only reads an empty value as the default, which every optional
        # option's wire schema allows anyway.
        json_schema_extra={"x-wire": {"type": "string", "enum": ["transceiver", "transmitter"]}},
    )
    RECEIPT_ID: smpp_receipt.IdForm = Field(
        "as_is",
        description="How a receipt writes the message id the submit_sm_resp gave: as_is; "
        "hex_to_decimal: receipt hex, submit answer decimal; decimal_to_hex: the reverse",
    )

    # Refused at save: a value the bind or submit_sm cannot carry would fail every send.
    _ascii_only = field_validator("SYSTEM_ID", "PASSWORD", "SYSTEM_TYPE", "S_ADDR")(_ascii)

    @field_validator("BIND", mode="before")
    @classmethod
    def _default_bind(cls, value: Any) -> Any:
        return value or None  # an empty value posted by a form: the default

    @property
    def bind_mode(self) -> Literal["transceiver", "transmitter"]:
        if self.BIND is not None:
            return self.BIND
        return "transceiver" if self.REGISTERED_DELIVERY == "yes" else "transmitter"

    @field_validator("S_ADDR_TON", "S_ADDR_NPI", "D_ADDR_TON", "D_ADDR_NPI", mode="before")
    @classmethod
    def _hexadecimal(cls, value: Any) -> Any:
        # privacyIDEA reads these as hexadecimal ("0x5", "5", "12" = 0x12): so do we.
        if isinstance(value, str):
            try:
                return int(value, 16)
            except ValueError:
                raise ValueError("must be a hexadecimal number such as 0x1") from None
        return value
