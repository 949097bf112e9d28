"""Per-gateway health for GET /sms/gateways/health, read from the database so every
worker answers the same."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from app.db import health_repo
from app.db.health_repo import Attempt
from app.db.tables import utcnow
from app.delivery import receipts_repo
from app.errors import NotReady
from app.runtime import Runtime
from app.schemas.health import GatewayHealthOut
from app.services import circuit

WINDOW_ATTEMPTS = 100
WINDOW = timedelta(minutes=15)
# Delivery reports come minutes after the send: their ratio looks further back.
DLR_WINDOW = timedelta(hours=1)


def p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def summarise(
    gateway: str,
    newest_first: list[Attempt],
    failure: tuple[str, datetime] | None,
    now: datetime,
    dlr_delivered_ratio: float | None = None,
) -> GatewayHealthOut:
    window = [a for a in newest_first if now - a.finished_at <= WINDOW]
    in_a_row = 0
    for attempt in newest_first:
        if attempt.ok:
            break
        in_a_row += 1
    state = circuit.replay(newest_first[: circuit.HISTORY], now)
    return GatewayHealthOut(
        gateway=gateway,
        window_attempts=len(window),
        window_seconds=int(WINDOW.total_seconds()),
        success_ratio=round(sum(a.ok for a in window) / len(window), 4) if window else None,
        p95_latency_ms=p95([a.latency_ms for a in window]),
        consecutive_failures=in_a_row,
        last_error=failure[0] if failure else None,
        last_error_at=failure[1] if failure else None,
        circuit=state.state,
        circuit_opened_at=state.opened_at,
        circuit_reason=state.reason,
        dlr_delivered_ratio=dlr_delivered_ratio,
    )


async def report(rt: Runtime) -> list[GatewayHealthOut]:
    """Every defined gateway's health, in name order."""
    now = utcnow()

    def read(tx: Session) -> list[GatewayHealthOut]:
        answers = []
        names = health_repo.gateway_names(tx)
        recent = health_repo.recent_attempts_of(tx, names, WINDOW_ATTEMPTS)
        ratios = receipts_repo.delivered_ratios(tx, now - DLR_WINDOW)
        for name in names:
            attempts = recent[name]
            failure = next(((a.error, a.finished_at) for a in attempts if not a.ok), None)
            if failure is None:
                failure = health_repo.last_failure(tx, name)
            answers.append(summarise(name, attempts, failure, now, ratios.get(name)))
        return answers

    return await rt.db.read(read)


Waiting = dict[str, tuple[int, datetime | None]]


async def scrape(rt: Runtime) -> tuple[Waiting, dict[str, circuit.Circuit]]:
    """What a metrics scrape reads: the outbox's waiting messages and every circuit."""
    now = utcnow()

    def read(tx: Session) -> tuple[Waiting, dict[str, circuit.Circuit]]:
        recent = health_repo.recent_attempts_of(tx, health_repo.gateway_names(tx), circuit.HISTORY)
        circuits = {name: circuit.replay(attempts, now) for name, attempts in recent.items()}
        return health_repo.waiting(tx), circuits

    return await rt.db.read(read)


async def database_ready(rt: Runtime) -> str:
    """The database's dialect if it answers a query, else NotReady (503)."""
    try:
        await rt.db.read(health_repo.ping)
    except (DBAPIError, PoolTimeout, OSError) as exc:
        raise NotReady(f"the database does not answer: {type(exc).__name__}") from exc
    return rt.db.dialect
