"""What gateway health, the circuit breaker and the outbox gauges read.

Every query is a short indexed read: they run on each scrape of /metrics, each call of the
health route, and (cached briefly) before each send.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, func, select

from app.db.tables import Gateway, MessageLog

M = MessageLog.__table__  # type: ignore[attr-defined]
G = Gateway.__table__  # type: ignore[attr-defined]
WAITING = ("queued", "sending")  # the states a message waits in; the rest are final
# A send refused because the gateway's circuit was open: not an attempt, so not evidence.
CIRCUIT_OPEN = "circuit_open"


@dataclass(frozen=True)
class Attempt:
    ok: bool
    started_at: datetime
    finished_at: datetime
    latency_ms: float
    error: str


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def recent_attempts(tx: Connection, gateway: str, limit: int) -> list[Attempt]:
    """The gateway's last `limit` attempts, newest first."""
    rows = tx.execute(
        select(M.c.status, M.c.created_at, M.c.finished_at, M.c.latency_ms, M.c.error)
        .where(M.c.gateway == gateway)
        .order_by(M.c.id.desc())
        .limit(limit)
    )
    attempts = []
    for status, created, finished, latency, error in rows:
        if status in WAITING or (error or "").startswith(CIRCUIT_OPEN):
            continue
        start = _aware(created)
        attempts.append(
            Attempt(
                ok=status != "failed",
                started_at=start,
                finished_at=_aware(finished) if finished else start,
                latency_ms=float(latency or 0.0),
                error=error or "",
            )
        )
    return attempts


def last_failure(tx: Connection, gateway: str) -> tuple[str, datetime] | None:
    row = tx.execute(
        select(M.c.error, M.c.finished_at, M.c.created_at)
        .where(M.c.gateway == gateway, M.c.status == "failed")
        .order_by(M.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return row[0] or "", _aware(row[1] or row[2])


def gateway_names(tx: Connection) -> list[str]:
    return [name for (name,) in tx.execute(select(G.c.name).order_by(G.c.name))]


def waiting(tx: Connection) -> dict[str, tuple[int, datetime | None]]:
    """Messages waiting to be sent, by state: how many, and the oldest one's creation.

    Both answered from the status index alone (ids grow with creation time, so the
    smallest waiting id is the oldest), then one row read by its key: fast however many
    final rows the log holds and however many wait.
    """
    found: dict[str, tuple[int, datetime | None]] = {}
    for status in WAITING:
        count, first = tx.execute(
            select(func.count(), func.min(M.c.id)).where(M.c.status == status)
        ).one()
        oldest = None
        if first is not None:
            oldest = _aware(tx.execute(select(M.c.created_at).where(M.c.id == first)).scalar_one())
        found[status] = (int(count), oldest)
    return found


def ping(tx: Connection) -> None:
    tx.execute(select(1))
