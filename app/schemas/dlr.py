"""Request and response models of delivery reports (/sms/dlr, the report token)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ReceiptState = Literal["accepted", "enroute", "delivered", "undeliverable", "unknown"]


class DlrTokenOut(BaseModel):
    """A gateway's new delivery report token: shown this once, stored only as a hash."""

    gateway: str
    token: str = Field(description="The secret in the report URL; the previous one stops working")
    path: str = Field(description="Where the gateway posts its reports: /sms/dlr/{gateway}/{token}")


class DlrOut(BaseModel):
    """What a delivery report did."""

    gateway: str
    provider_id: str = Field(description="The gateway's message id the report names")
    state: ReceiptState = Field(description="The reported state, in the service's words")
    outcome: Literal["applied", "duplicate", "kept"] = Field(
        description="applied: the part moved on; duplicate: nothing to change (a repeat, or a "
        "state the part already passed); kept: its message's submit answer is still being "
        "written, the report is applied with it"
    )
