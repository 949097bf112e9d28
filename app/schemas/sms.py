"""Request and response models of /sms."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_MESSAGE = 1600  # ten concatenated GSM-7 parts and then some; longer is a mistake


class SmsIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {"gateway": "my-gateway", "phone": "+491701234567", "message": "Hi"},
                {
                    "gateways": ["primary", "fallback"],
                    "phone": "+491701234567",
                    "message": "Hi",
                    "async": True,
                },
            ]
        },
    )

    gateway: str | None = Field(
        None, min_length=1, max_length=255, description="The gateway's name"
    )
    gateways: list[str] | None = Field(
        None,
        min_length=1,
        max_length=10,
        description="Gateways to try in order: the next one when a gateway fails",
    )
    phone: str = Field(min_length=1, max_length=40, description="E.164, e.g. +491701234567")
    message: str = Field(min_length=1, max_length=MAX_MESSAGE)
    async_: bool = Field(
        False,
        alias="async",
        description="Answer 202 with the queued message at once; it is sent from the outbox",
    )

    @model_validator(mode="after")
    def _one_route(self) -> SmsIn:
        if self.gateway is None and self.gateways is None:
            raise ValueError("gateway: give gateway or gateways")
        if self.gateway is not None and self.gateways is not None:
            raise ValueError("gateways: give gateway or gateways, not both")
        for name in self.gateways or []:
            if not name.strip() or len(name) > 255:
                raise ValueError("gateways: every name has 1 to 255 characters")
        return self

    def route(self) -> list[str]:
        return list(self.gateways) if self.gateways is not None else [self.gateway or ""]


MessageStatus = Literal["queued", "sending", "sent", "failed", "expired"]
AttemptOutcome = Literal["", "accepted", "retryable", "permanent", "unknown"]


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
    attempt_log: list[AttemptOut] = Field(description="Every attempt, oldest first")


class MessagePage(BaseModel):
    messages: list[MessageOut]
    count: int
    current: int
    next: int | None
    prev: int | None
