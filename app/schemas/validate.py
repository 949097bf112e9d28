"""Request and response models of /validate."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_PASS = 256


class CheckIn(BaseModel):
    """privacyIDEA's /validate/check: a user (and realm) or a serial, and a pass."""

    model_config = ConfigDict(
        extra="ignore",  # auth plug-ins add their own keys (client, otponly...)
        json_schema_extra={
            "examples": [
                {"user": "alice", "realm": "corp", "pass": "1234"},
                {"user": "alice", "realm": "corp", "transaction_id": "0123...", "pass": "287082"},
            ]
        },
    )

    user: str | None = Field(default=None, min_length=1, max_length=255)
    realm: str = Field(default="", max_length=255)
    serial: str | None = Field(default=None, min_length=1, max_length=64)
    pass_: str = Field(alias="pass", max_length=MAX_PASS, description="PIN, PIN+OTP, or OTP")
    transaction_id: str | None = Field(default=None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _exactly_one_subject(self) -> CheckIn:
        if bool(self.user) == bool(self.serial):
            raise ValueError("give either user (and realm) or serial, not both")
        return self


class TriggerIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    user: str | None = Field(default=None, min_length=1, max_length=255)
    realm: str = Field(default="", max_length=255)
    serial: str | None = Field(default=None, min_length=1, max_length=64)

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
    attributes: dict[str, str] | None = None


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
    attributes: dict[str, str] | None = None
    client_mode: str | None = None
    preferred_client_mode: str | None = None
