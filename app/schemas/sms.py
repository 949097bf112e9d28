"""Request and response models of /sms."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from app.schemas.system import Flag
from app.schemas.types import MAX_NAME, AsText, NotNull, Phone, without_null

MAX_MESSAGE = 1600  # ten concatenated GSM-7 parts and then some; longer is a mistake


class SmsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=without_null(
            # Exactly one of the two names the route.
            oneOf=[{"required": ["gateway"]}, {"required": ["gateways"]}],
            examples=[
                {"gateway": "my-gateway", "phone": "+491701234567", "message": "Hi"},
                {
                    "gateways": ["primary", "fallback"],
                    "phone": "+491701234567",
                    "message": "Hi",
                    "async": True,
                },
            ],
        ),
    )

    gateway: Annotated[
        str | None,
        NotNull,
        Field(min_length=1, max_length=MAX_NAME, description="The gateway's name"),
    ] = None
    gateways: Annotated[
        Annotated[
            list[Annotated[str, Field(min_length=1, max_length=MAX_NAME)]],
            Field(min_length=1, max_length=10),
        ]
        | None,
        NotNull,
        Field(
            description="Gateways to try in order: the next one when a gateway fails "
            "(instead of gateway)",
        ),
    ] = None
    phone: Phone
    message: Annotated[str, AsText(MAX_MESSAGE, 1, "The text; an integer is sent as its digits")]
    async_: Annotated[
        Flag,
        Field(
            alias="async",
            description="Answer 202 with the queued message at once; it is sent from the outbox",
        ),
    ] = None

    @model_validator(mode="after")
    def _one_route(self) -> SmsIn:
        if self.gateway is None and self.gateways is None:
            raise ValueError("gateway: give gateway or gateways")
        if self.gateway is not None and self.gateways is not None:
            raise ValueError("gateways: give gateway or gateways, not both")
        return self

    @property
    def is_async(self) -> bool:
        return bool(self.async_)

    def route(self) -> list[str]:
        return list(self.gateways) if self.gateways is not None else [self.gateway or ""]


MessageStatus = Literal[
    "queued", "sending", "sent", "failed", "expired", "delivered", "undeliverable", "unknown"
]
AttemptOutcome = Literal["", "accepted", "retryable", "permanent", "unknown"]
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


class AttemptOut(BaseModel):
    """One try through one gateway. Outcome "" while it is in flight."""

    gateway: str
    node: str = Field(description="host:pid of the process that made it")
    started_at: datetime
    finished_at: datetime | None
    outcome: AttemptOutcome
    error: str
    provider_ids: list[str]


class MessageOut(BaseModel):
    """One outbox message. The text is never shown: it may carry an OTP."""

    id: int
    gateway: str = Field(description="The gateway of the latest attempt (or the next one)")
    route: list[str] = Field(description="The gateways in the order they are tried")
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
    deadline: datetime | None = Field(description="Nothing is attempted after it")
    reported_at: datetime | None = Field(
        None,
        description="When the delivery report that made it delivered, undeliverable or "
        "unknown says it happened (or arrived); null without one",
    )
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first")


class MessagePage(BaseModel):
    messages: list[MessageOut]
    count: int
    current: int
    next: int | None
    prev: int | None
