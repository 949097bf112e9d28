"""Deleting rows whose time has passed: each a single DELETE, so any number of workers
may run them at once (a row already gone is simply not found again)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete
from sqlalchemy.orm import Session

from app.db.tables import AuditEntry, Challenge, LoginFailure, MessageLog, table

_AUDIT = table(AuditEntry)
_MESSAGE = table(MessageLog)
_FAILURE = table(LoginFailure)
_CHALLENGE = table(Challenge)

_DELETE = {
    "audit": delete(_AUDIT).where(_AUDIT.c.ts < bindparam("before")),
    # Only final messages: a queued or sending one is still owed to its recipient.
    "message": delete(_MESSAGE).where(
        _MESSAGE.c.created_at < bindparam("before"),
        _MESSAGE.c.status.not_in(["queued", "sending"]),
    ),
    "login_failure": delete(_FAILURE).where(_FAILURE.c.last_failure < bindparam("before")),
    "challenge": delete(_CHALLENGE).where(_CHALLENGE.c.expires_at < bindparam("before")),
}


def delete_before(tx: Session, table: str, before: datetime) -> int:
    """Delete the table's rows older than `before`; returns how many went."""
    return int(tx.connection().execute(_DELETE[table], {"before": before}).rowcount)
