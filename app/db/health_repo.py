"""What gateway health, the circuit breaker and the outbox gauges read.

Every query is a short indexed read: they run on each scrape of /metrics, each call of the
health route, and (cached briefly) before each send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

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


def recent_attempts(tx: Session, gateway: str, limit: int) -> list[Attempt]:
    """The gateway's last `limit` attempts, newest first."""
    return recent_attempts_of(tx, [gateway], limit)[gateway]


def recent_attempts_of(
    tx: Session, gateways: Sequence[str], limit: int
) -> dict[str, list[Attempt]]:
    """Each gateway's last `limit` attempts, newest first: one statement, one index range
    per gateway, however many rows the log holds."""
    found: dict[str, list[tuple[int, Attempt]]] = {name: [] for name in gateways}
    if not gateways:
        return {}
    # One timestamp per row: a gateway's figures read a few hundred rows per call, and
    # turning SQLite's text into datetimes is most of what that costs.
    finished = func.coalesce(M.c.finished_at, M.c.created_at).label("finished")
    columns = (M.c.id, M.c.gateway, M.c.status, finished, M.c.latency_ms, M.c.error)
    parts = [
        select(*columns).where(M.c.gateway == name).order_by(M.c.id.desc()).limit(limit).subquery()
        for name in gateways
    ]
    statement = union_all(*(select(part) for part in parts))
    for ident, name, status, end, latency, error in tx.execute(statement):
        if status in WAITING or CIRCUIT_OPEN in (error or ""):
            continue
        end = _aware(end)
        took = float(latency or 0.0)
        found[name].append(
            (
                ident,
                Attempt(
                    ok=status != "failed",
                    started_at=end - timedelta(milliseconds=took),
                    finished_at=end,
                    latency_ms=took,
                    error=error or "",
                ),
            )
        )
    return {
        name: [attempt for _, attempt in sorted(rows, key=lambda r: r[0], reverse=True)]
        for name, rows in found.items()
    }


def last_failure(tx: Session, gateway: str) -> tuple[str, datetime] | None:
    row = tx.execute(
        select(M.c.error, M.c.finished_at, M.c.created_at)
        .where(M.c.gateway == gateway, M.c.status == "failed")
        .order_by(M.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return row[0] or "", _aware(row[1] or row[2])


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
