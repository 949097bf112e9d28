"""Request and response models of /sms."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGE = 1600  # ten concatenated GSM-7 parts and then some; longer is a mistake


class SmsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"gateway": "my-gateway", "phone": "+491701234567", "message": "Hi"}]
        },
    )

    gateway: str = Field(min_length=1, max_length=255, description="The gateway's name")
    phone: str = Field(min_length=1, max_length=40, description="E.164, e.g. +491701234567")
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)


MessageStatus = Literal["sent", "failed"]


class MessageOut(BaseModel):
    """One message-log row. The text is never stored: it may carry an OTP."""

    id: int
    gateway: str
    phone: str = Field(description="Masked")
    status: MessageStatus
    attempts: int
    parts: int
    latency_ms: float
    provider_ids: list[str]
    error: str
    source: str
    serial: str
    transaction_id: str
    created_at: datetime
    finished_at: datetime | None


class MessagePage(BaseModel):
    messages: list[MessageOut]
    count: int
    current: int
    next: int | None
    prev: int | None
