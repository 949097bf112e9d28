"""Request and response models of /system."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

KNOWN_KEYS = (
    "sms.identifier",
    "sms.providerTimeout",
    "sms.text",
    "sms.concurrent_challenges",
    "sms.inline_budget",
    "sms.async",
    "sms.deadline_margin",
    "sms.retries",
    "sms.backoff",
    "sms.send_validity",
    "sms.unknown_outcome",
)


class SetConfigIn(BaseModel):
    """Keys and values to set; smsgw serves the sms.* keys."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [{"sms.identifier": "my-gateway", "sms.text": "Your code: {otp}"}]
        },
    )

    identifier: str | None = Field(None, alias="sms.identifier", min_length=1, max_length=255)
    provider_timeout: int | None = Field(None, alias="sms.providerTimeout", ge=10, le=86_400)
    text: str | None = Field(None, alias="sms.text", min_length=1, max_length=1000)
    concurrent_challenges: bool | None = Field(None, alias="sms.concurrent_challenges")
    inline_budget: float | None = Field(
        None,
        alias="sms.inline_budget",
        ge=0,
        le=60,
        description="Seconds a synchronous login or /sms/send waits for a gateway to accept",
    )
    async_: bool | None = Field(
        None,
        alias="sms.async",
        description="Answer CHALLENGE at once and send the SMS from the outbox",
    )
    deadline_margin: int | None = Field(
        None,
        alias="sms.deadline_margin",
        ge=0,
        le=86_400,
        description="A challenge's SMS is not attempted later than its expiry minus this",
    )
    retries: int | None = Field(
        None,
        alias="sms.retries",
        ge=0,
        le=10,
        description="Retries on the same gateway after a temporary failure, then the next",
    )
    backoff: float | None = Field(
        None,
        alias="sms.backoff",
        ge=0.01,
        le=60,
        description="Seconds before the first retry; doubled each time, jittered",
    )
    send_validity: int | None = Field(
        None,
        alias="sms.send_validity",
        ge=10,
        le=604_800,
        description="A /sms/send message is not attempted later than this after acceptance",
    )
    unknown_outcome: Literal["failover", "fail"] | None = Field(
        None,
        alias="sms.unknown_outcome",
        description="After a send that may have gone out: try the next gateway, or fail",
    )

    @field_validator("text")
    @classmethod
    def _has_otp_tag(cls, value: str | None) -> str | None:
        if value is not None and "<otp>" not in value and "{otp}" not in value:
            raise ValueError("must contain the <otp> or {otp} tag")
        return value
