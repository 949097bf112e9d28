"""Request and response models of /token."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from app.schemas.types import (
    MAX_NAME,
    AsText,
    NotNull,
    OptionalName,
    Phone,
    WholeNumber,
    without_null,
)

Name = Field(default="", max_length=MAX_NAME)
SERIAL_PATTERN = r"^[A-Za-z0-9_.\-]+$"
Serial = Annotated[str, Field(min_length=1, max_length=64, pattern=SERIAL_PATTERN)]
# The constraints sit on the inner type: on `str | None` pydantic drops the pattern from
# the document while still enforcing it.
OptionalSerial = Annotated[Serial | None, NotNull]
# privacyIDEA's clients send the length as 6 or "6"; both mean the same.
_OTPLEN = (6, 8, "6", "8")


def _otplen(value: Any) -> Any:
    if not isinstance(value, bool) and value in _OTPLEN:
        return int(value)
    raise ValueError("must be 6 or 8")


OtpLen = Annotated[
    int,
    BeforeValidator(_otplen),
    WithJsonSchema(
        {
            "anyOf": [{"type": "integer", "enum": [6, 8]}, {"type": "string", "enum": ["6", "8"]}],
            "description": "6 or 8 digits",
            "default": 6,
        }
    ),
]
SERIAL_OR_USER = {"anyOf": [{"required": ["serial"]}, {"required": ["user"]}]}


class TokenInitIn(BaseModel):
    """privacyIDEA's /token/init for an SMS token."""

    model_config = ConfigDict(
        extra="ignore",  # privacyIDEA clients send genkey, hashlib, 2stepinit...
        json_schema_extra=without_null(
            examples=[
                {
                    "type": "sms",
                    "user": "alice",
                    "realm": "corp",
                    "pin": "1234",
                    "phone": "+491701234567",
                    "sms.identifier": "my-gateway",
                }
            ]
        ),
    )

    type: Literal["sms"] = Field(description="Only SMS tokens are served by smsgw")
    user: str = Field(min_length=1, max_length=MAX_NAME)
    realm: str = Name
    pin: Annotated[str, AsText(128, description="The OTP PIN (first factor)")] = ""
    phone: Phone
    sms_identifier: str = Field(
        default="", alias="sms.identifier", max_length=MAX_NAME, description="Gateway name"
    )
    otplen: OtpLen = 6
    description: Annotated[str, AsText(2000)] = ""
    serial: OptionalSerial = None
    maxfail: Annotated[int, Field(ge=1, le=1000), WholeNumber] = 10


class GoogleUrl(BaseModel):
    """privacyIDEA's enrolment URL of an HOTP-based token, with its QR code."""

    description: str
    img: str = Field(description="The QR code as a data: URL (SVG)")
    value: str = Field(examples=["otpauth://sms/PISM0001?secret=...&counter=1&digits=6"])


class TokenInitDetail(BaseModel):
    serial: str
    threadid: int
    googleurl: GoogleUrl


class TokenInfo(BaseModel):
    phone: str
    sms_identifier: str = Field(serialization_alias="sms.identifier")


class TokenOut(BaseModel):
    serial: str
    tokentype: str
    username: str
    realm: str
    user_realm: str
    realms: list[str]
    description: str
    active: bool
    locked: bool
    failcount: int
    maxfail: int
    otplen: int
    count: int
    info: TokenInfo


class TokenPage(BaseModel):
    tokens: list[TokenOut]
    count: int
    current: int
    next: int | None
    prev: int | None


class TokenSelectIn(BaseModel):
    """Which tokens an action applies to: a serial, or every token of a user."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=without_null(**SERIAL_OR_USER))

    serial: OptionalSerial = None
    user: OptionalName = None
    realm: str = Name

    @model_validator(mode="after")
    def _one_of(self) -> TokenSelectIn:
        if not self.serial and not self.user:
            raise ValueError("give serial or user")
        return self


class SetPinIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    serial: Serial
    otppin: Annotated[str, AsText(128)]
