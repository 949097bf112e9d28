"""Request and response models of /sms."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.schemas.types import MAX_NAME, AsText, Phone

MAX_MESSAGE = 1600  # ten concatenated GSM-7 parts and then some; longer is a mistake


class SmsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"gateway": "my-gateway", "phone": "+491701234567", "message": "Hi"}]
        },
    )

    gateway: str = Field(min_length=1, max_length=MAX_NAME, description="The gateway's name")
    phone: Phone
    message: Annotated[str, AsText(MAX_MESSAGE, 1, "The text; an integer is sent as its digits")]


MessageStatus = Literal["sent", "failed"]
# What the document's `format: date-time` means (RFC 3339; no offset = UTC), no more: pydantic would
# take a Unix time such as 0.5, or a date without a time.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def _rfc3339(value: Any) -> Any:
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
    return value


DateTimeText = BeforeValidator(_rfc3339)


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
