"""Readiness and gateway health."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class Ready(BaseModel):
    status: Literal["ready"]
    database: str


class GatewayHealthOut(BaseModel):
    gateway: str
    window_attempts: int = Field(description="Attempts in the window the figures are over")
    window_seconds: int = Field(description="How far back the window reaches at most")
    success_ratio: float | None = Field(description="Accepted attempts / attempts; null: none")
    p95_latency_ms: float | None = Field(description="95th percentile of attempt latency")
    consecutive_failures: int = Field(description="Failed attempts since the last success")
    last_error: str | None = None
    last_error_at: datetime | None = None
    circuit: Literal["closed", "open", "half_open"]
    circuit_opened_at: datetime | None = None
    circuit_reason: str = ""
    dlr_delivered_ratio: float | None = Field(
        None,
        description="Final delivery reports of the last hour that say delivered; null: none",
    )
