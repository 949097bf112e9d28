"""Request and response models of /token."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Name = Field(default="", max_length=255)


class TokenInitIn(BaseModel):
    """privacyIDEA's /token/init for an SMS token."""

    model_config = ConfigDict(
        extra="ignore",  # privacyIDEA clients send genkey, hashlib, 2stepinit...
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "sms",
                    "user": "alice",
                    "realm": "corp",
                    "pin": "1234",
                    "phone": "+491701234567",
                    "sms.identifier": "my-gateway",
                }
            ]
        },
    )

    type: Literal["sms"] = Field(description="Only SMS tokens are served by smsgw")
    user: str = Field(min_length=1, max_length=255)
    realm: str = Name
    pin: str = Field(default="", max_length=128, description="The OTP PIN (first factor)")
    phone: str = Field(min_length=1, max_length=40, description="E.164 after normalisation")
    sms_identifier: str = Field(
        default="", alias="sms.identifier", max_length=255, description="Gateway name"
    )
    otplen: int = Field(6, description="6 or 8 digits", json_schema_extra={"enum": [6, 8]})
    description: str = Field(default="", max_length=2000)
    serial: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    maxfail: int = Field(default=10, ge=1, le=1000)

    @field_validator("otplen")
    @classmethod
    def _six_or_eight(cls, value: int) -> int:
        if value not in (6, 8):
            raise ValueError("must be 6 or 8")
        return value


class TokenInitDetail(BaseModel):
    serial: str
    threadid: int


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

    model_config = ConfigDict(extra="ignore")

    serial: str | None = Field(default=None, min_length=1, max_length=64)
    user: str | None = Field(default=None, min_length=1, max_length=255)
    realm: str = Name

    @model_validator(mode="after")
    def _one_of(self) -> TokenSelectIn:
        if not self.serial and not self.user:
            raise ValueError("give serial or user")
        return self


class SetPinIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    serial: str = Field(min_length=1, max_length=64)
    otppin: str = Field(max_length=128)
