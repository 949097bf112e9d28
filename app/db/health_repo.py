"""What gateway health, the circuit breaker and the outbox gauges read.

Every query is a short indexed read: they run on each scrape of /metrics, each call of the
health route, and (cached briefly) before each send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from app.db.tables import DeliveryAttempt, Gateway, MessageLog, table

M = table(MessageLog)
A = table(DeliveryAttempt)
G = table(Gateway)
FAILED = ("retryable", "permanent", "unknown")  # an attempt's outcomes other than accepted
WAITING = ("queued", "sending")  # the states a message waits in; the rest are final
# A send refused because the gateway's circuit was open: not an attempt, so not evidence.
CIRCUIT_OPEN = "circuit_open"
# Attempts that say nothing about the gateway either: closed because the process making it
# died (app/delivery/sender.py LEASE_LOST), or refused because another process owns the
# modem (app/delivery/ownership.py), or held back by the gateway's own limits
# (app/traffic/gateway_limits.py): the gateway never saw them.
NOT_EVIDENCE = (
    CIRCUIT_OPEN,
    "(its lease expired)",
    ": modem_elsewhere:",
    ": modem_unowned:",
    ": gateway_limit:",
)


@dataclass(frozen=True)
class Attempt:
    ok: bool
    started_at: datetime
    finished_at: datetime
    latency_ms: float
    error: str


def _no_evidence(error: str) -> bool:
    return any(mark in error for mark in NOT_EVIDENCE)


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def recent_attempts(tx: Session, gateway: str, limit: int) -> list[Attempt]:
    """The gateway's last `limit` attempts, newest first."""
    return recent_attempts_of(tx, [gateway], limit)[gateway]


def recent_attempts_of(
    tx: Session, gateways: Sequence[str], limit: int
) -> dict[str, list[Attempt]]:
    """Each gateway's last `limit` finished attempts, newest first: one statement, one index
    range per gateway (ix_delivery_attempt_gateway_id), however many rows there are."""
    if not gateways:
        return {}
    columns = (A.c.id, A.c.gateway, A.c.outcome, A.c.started_at, A.c.finished_at, A.c.error)
    parts = [
        select(*columns).where(A.c.gateway == name).order_by(A.c.id.desc()).limit(limit).subquery()
        for name in gateways
    ]
    found: dict[str, list[tuple[int, Attempt]]] = {name: [] for name in gateways}
    for ident, name, outcome, started, finished, error in tx.execute(
        union_all(*(select(part) for part in parts))
    ):
        if not outcome or finished is None or _no_evidence(error or ""):
            continue  # in flight, skipped by the breaker, or its process died
        begin, end = _aware(started), _aware(finished)
        attempt = Attempt(
            ok=outcome == "accepted",
            started_at=begin,
            finished_at=end,
            latency_ms=(end - begin).total_seconds() * 1000,
            error=error or "",
        )
        found[name].append((ident, attempt))
    return {
        name: [attempt for _, attempt in sorted(rows, key=lambda r: r[0], reverse=True)]
        for name, rows in found.items()
    }


def last_failure(tx: Session, gateway: str) -> tuple[str, datetime] | None:
    row = tx.execute(
        select(A.c.error, A.c.finished_at)
        .where(
            A.c.gateway == gateway,
            A.c.outcome.in_(FAILED),
            A.c.finished_at.is_not(None),
            *(A.c.error.not_like(f"%{mark}%") for mark in NOT_EVIDENCE),
        )
        .order_by(A.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return row[0] or "", _aware(row[1])


def gateway_names(tx: Session) -> list[str]:
    return [name for (name,) in tx.execute(select(G.c.name).order_by(G.c.name))]


def waiting(tx: Session) -> dict[str, tuple[int, datetime | None]]:
    """Messages waiting to be sent, by state: how many, and the oldest one's creation.

    Both answered from the status index alone (ids grow with creation time, so the
    smallest waiting id is the oldest), then one row read by its key: fast however many
    final rows the log holds and however many wait.
    """
    counted = tx.execute(
        select(M.c.status, func.count(), func.min(M.c.id))
        .where(M.c.status.in_(WAITING))
        .group_by(M.c.status)
    ).all()
    firsts = [first for _, _, first in counted if first is not None]
    rows = tx.execute(select(M.c.id, M.c.created_at).where(M.c.id.in_(firsts)))
    created: dict[int, datetime] = {ident: moment for ident, moment in rows}
    found: dict[str, tuple[int, datetime | None]] = dict.fromkeys(WAITING, (0, None))
    for status, count, first in counted:
        found[status] = (int(count), _aware(created[first]) if first in created else None)
    return found


def ping(tx: Session) -> None:
    tx.execute(select(1))
