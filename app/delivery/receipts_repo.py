"""Delivery reports' SQL: each part's row keyed by (gateway, provider id), and the message
state the parts add up to.

A report moves a part only forward (accepted < enroute < final) by a conditional UPDATE,
so a duplicate or a late, earlier report changes nothing wherever it lands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Insert,
    bindparam,
    case,
    delete,
    exists,
    func,
    literal,
    null,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db.tables import DeliveryReport, MessageLog, table
from app.delivery.outbox_repo import aware

REPORT = table(DeliveryReport)
MESSAGE = table(MessageLog)
R = REPORT.c
M = MESSAGE.c
FINAL_STATES = ("delivered", "undeliverable", "unknown")
# The states a part may be in for a report of the given state to move it on.
_BEFORE = {
    "accepted": ("",),
    "enroute": ("", "accepted"),
    **{final: ("", "accepted", "enroute") for final in FINAL_STATES},
}


@dataclass(frozen=True)
class Report:
    """A receipt as the database keeps it."""

    gateway: str
    provider_id: str
    state: str
    provider_status: str
    error: str
    reported_at: datetime | None
    received_at: datetime


def _insert(tx: Session) -> Any:
    dialect = postgresql if tx.connection().dialect.name == "postgresql" else sqlite
    return dialect.insert(REPORT)


def adopt(tx: Session, gateway: str, message_id: int, provider_ids: Sequence[str]) -> bool:
    """Write an accepted message's parts (one statement), adopting any receipt kept before the
    ids were known; True if such a receipt is final (the message state must be settled)."""
    rows = [
        {"gateway": gateway, "provider_id": pid, "message_id": message_id, "part": part}
        for part, pid in enumerate(provider_ids)
    ]
    upsert = _insert(tx).values(rows)
    # A kept receipt (no message yet) is adopted with its state; a row of an older message
    # (a gateway that reuses its ids) starts afresh, so its old state cannot settle this one.
    pending = R.message_id.is_(None)
    fresh = {
        column: case((pending, R[column]), else_=empty)
        for column, empty in (
            ("state", literal("")),
            ("provider_status", literal("")),
            ("error", literal("")),
            ("reported_at", null()),
            ("received_at", null()),
        )
    }
    statement: Insert = upsert.on_conflict_do_update(
        index_elements=[R.gateway, R.provider_id],
        set_={"message_id": upsert.excluded.message_id, "part": upsert.excluded.part, **fresh},
    ).returning(R.state)
    return any(state in FINAL_STATES for (state,) in tx.connection().execute(statement))


_ADVANCE = (
    update(REPORT)
    .where(
        R.gateway == bindparam("p_gateway"),
        R.provider_id == bindparam("p_provider_id"),
        R.state.in_(bindparam("p_before", expanding=True)),
    )
    .values(
        state=bindparam("p_state"),
        provider_status=bindparam("p_status"),
        error=bindparam("p_error"),
        reported_at=bindparam("p_reported_at"),
        received_at=bindparam("p_received_at"),
    )
    .returning(R.message_id)
)


def advance(tx: Session, report: Report) -> tuple[bool, int | None]:
    """Move the part forward: (moved, its message id, None if not known yet)."""
    row = (
        tx.connection()
        .execute(
            _ADVANCE,
            {
                "p_gateway": report.gateway,
                "p_provider_id": report.provider_id,
                "p_before": list(_BEFORE[report.state]),
                "p_state": report.state,
                "p_status": report.provider_status[:64],
                "p_error": report.error[:255],
                "p_reported_at": report.reported_at,
                "p_received_at": report.received_at,
            },
        )
        .first()
    )
    return (False, None) if row is None else (True, row[0])


def known(tx: Session, gateway: str, provider_id: str) -> bool:
    found = select(R.id).where(R.gateway == gateway, R.provider_id == provider_id)
    return tx.connection().execute(found).first() is not None


def awaiting_answer(tx: Session, gateway: str) -> bool:
    """Whether a message on the gateway is being sent: its submit answer (and so the ids a
    receipt may name) is not committed yet."""
    sending = exists().where(M.gateway == gateway, M.status == "sending")
    return bool(tx.connection().execute(select(sending)).scalar())


def keep(tx: Session, report: Report) -> bool:
    """Keep a receipt for an id no message has yet; False if the id turned up meanwhile."""
    insert = (
        _insert(tx)
        .values(
            gateway=report.gateway,
            provider_id=report.provider_id,
            message_id=None,
            part=0,
            state=report.state,
            provider_status=report.provider_status[:64],
            error=report.error[:255],
            reported_at=report.reported_at,
            received_at=report.received_at,
        )
        .on_conflict_do_nothing(index_elements=[R.gateway, R.provider_id])
        .returning(R.id)
    )
    return tx.connection().execute(insert).first() is not None


def settle(tx: Session, message_id: int) -> str | None:
    """Give the message the state its parts add up to, once that is final: delivered when
    every part is, undeliverable when any part is, else unknown. Returns the new state.

    The message row is locked first, so two parts reported at once on PostgreSQL cannot
    each miss the other's report.
    """
    parts = (
        select(M.status, R.state, R.reported_at, R.received_at)
        .join(REPORT, R.message_id == M.id)
        .where(M.id == message_id)
        .with_for_update(of=MESSAGE)
    )
    rows = tx.connection().execute(parts).all()
    if not rows or rows[0][0] != "sent":
        return None
    states = [row[1] for row in rows]
    if "undeliverable" in states:
        status = "undeliverable"
    elif all(state == "delivered" for state in states):
        status = "delivered"
    elif all(state in FINAL_STATES for state in states):
        status = "unknown"
    else:
        return None
    times = [aware(row[2] or row[3]) for row in rows if (row[2] or row[3]) is not None]
    tx.connection().execute(
        update(MESSAGE)
        .where(M.id == message_id, M.status == "sent")
        .values(status=status, reported_at=max(times) if times else None, report_due=None)
    )
    return status


def sweep(tx: Session, now: datetime, kept_since: datetime) -> int:
    """Sent messages whose report is overdue become `unknown` (one UPDATE); receipts kept
    for ids that never turned up are dropped."""
    moved = tx.connection().execute(
        update(MESSAGE)
        .where(M.report_due < now, M.status == "sent")
        .values(status="unknown", report_due=None)
    )
    tx.connection().execute(
        delete(REPORT).where(R.message_id.is_(None), R.received_at < kept_since)
    )
    return int(moved.rowcount)


def delivered_ratios(tx: Session, since: datetime) -> dict[str, float]:
    """Per gateway, the final reports since `since` that say delivered, as a ratio."""
    rows = tx.connection().execute(
        select(R.gateway, R.state, func.count())
        .where(R.received_at >= since, R.state.in_(FINAL_STATES))
        .group_by(R.gateway, R.state)
    )
    totals: dict[str, list[int]] = {}
    for gateway, state, count in rows:
        entry = totals.setdefault(gateway, [0, 0])
        entry[1] += int(count)
        if state == "delivered":
            entry[0] += int(count)
    return {gateway: round(ok / all_, 4) for gateway, (ok, all_) in totals.items() if all_}
