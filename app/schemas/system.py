"""Request and response models of /system."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

KNOWN_KEYS = ("sms.identifier", "sms.providerTimeout", "sms.text", "sms.concurrent_challenges")


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

    @field_validator("text")
    @classmethod
    def _has_otp_tag(cls, value: str | None) -> str | None:
        if value is not None and "<otp>" not in value and "{otp}" not in value:
            raise ValueError("must contain the <otp> or {otp} tag")
        return value
