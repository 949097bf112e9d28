"""Request and response models of /validate."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.schemas.token import OptionalSerial
from app.schemas.types import MAX_NAME, AsText, NotNull, OptionalName, without_null

MAX_PASS = 256
# Exactly one of them names whose token is meant; the realm goes with the user.
USER_OR_SERIAL = {"oneOf": [{"required": ["user"]}, {"required": ["serial"]}]}
TransactionId = Annotated[str | None, NotNull, AsText(64, 1)]


class CheckIn(BaseModel):
    """privacyIDEA's /validate/check: a user (and realm) or a serial, and a pass."""

    model_config = ConfigDict(
        extra="ignore",  # auth plug-ins add their own keys (client, otponly...)
        json_schema_extra=without_null(
            **USER_OR_SERIAL,
            examples=[
                {"user": "alice", "realm": "corp", "pass": "1234"},
                {"user": "alice", "realm": "corp", "transaction_id": "0123...", "pass": "287082"},
            ],
        ),
    )

    user: OptionalName = None
    realm: str = Field(default="", max_length=MAX_NAME)
    serial: OptionalSerial = None
    pass_: Annotated[str, AsText(MAX_PASS, description="PIN, PIN+OTP, or OTP")] = Field(
        alias="pass"
    )
    transaction_id: TransactionId = None

    @model_validator(mode="after")
    def _exactly_one_subject(self) -> CheckIn:
        if bool(self.user) == bool(self.serial):
            raise ValueError("give either user (and realm) or serial, not both")
        return self


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="ignore", json_schema_extra=without_null(**USER_OR_SERIAL))

    user: OptionalName = None
    realm: str = Field(default="", max_length=MAX_NAME)
    serial: OptionalSerial = None

    @model_validator(mode="after")
    def _exactly_one_subject(self) -> TriggerIn:
        if bool(self.user) == bool(self.serial):
            raise ValueError("give either user (and realm) or serial, not both")
        return self


class ChallengeInfo(BaseModel):
    serial: str
    transaction_id: str
    type: str = "sms"
    client_mode: str = "interactive"
    message: str
    attributes: dict[str, str | None] | None = None


class CheckDetail(BaseModel):
    """privacyIDEA's detail: which fields are present depends on the outcome."""

    message: str
    threadid: int
    serial: str | None = None
    type: str | None = None
    otplen: int | None = None
    transaction_id: str | None = None
    transaction_ids: list[str] | None = None
    multi_challenge: list[ChallengeInfo] | None = None
    messages: list[str] | None = None
    attributes: dict[str, str | None] | None = None
    client_mode: str | None = None
    preferred_client_mode: str | None = None
