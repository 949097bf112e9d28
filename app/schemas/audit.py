"""Response models of /audit."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class AuditOut(BaseModel):
    """One audit entry. PINs, OTPs and secrets are never recorded."""

    id: int
    ts: datetime
    actor: str
    action: str
    target: str
    success: bool
    info: str
    client_ip: str
    serial: str
    user: str
    realm: str


class AuditPage(BaseModel):
    auditdata: list[AuditOut]
    count: int
    current: int
    next: int | None
    prev: int | None
