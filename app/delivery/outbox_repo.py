"""The outbox's SQL, Core statements on the transaction's connection (those of every send
prepared on the driver's cursor): admitting, claiming, attempts, final states.

Every change of a message's state is a conditional UPDATE: a claim only takes a row that is
still queued, and a process only moves a message it holds the lease of, so a stale wake-up
or a process whose lease expired changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from app.db.prepared import Prepared
from app.db.tables import Challenge, DeliveryAttempt, MessageLog, ModemOwner, table

MESSAGE = table(MessageLog)
ATTEMPT = table(DeliveryAttempt)
CHALLENGE = table(Challenge)
OWNER = table(ModemOwner)
M = MESSAGE.c
A = ATTEMPT.c
FINAL = ("sent", "failed", "expired")
# What a sent message becomes when its gateway reports on it: it was sent all the same.
REPORTED = ("delivered", "undeliverable", "unknown")
CHANNEL = "smsgw_outbox"


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Fence:
    """Claim these gateways' messages only while `owner` still holds `device` at `epoch`."""

    device: str
    gateways: tuple[str, ...]
    owner: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Job:
    """What the engine needs of a message to drive it."""

    id: int
    route: tuple[str, ...]
    hop: int
    hop_tries: int
    deadline: datetime
    destination: str  # sealed
    body: str  # sealed; "" for a challenge
    challenge_id: int | None
    source: str
    serial: str
    transaction_id: str


_JOB_COLUMNS = [
    M.id,
    M.route,
    M.hop,
    M.hop_tries,
    M.deadline,
    M.destination,
    M.body,
    M.challenge_id,
    M.source,
    M.serial,
    M.transaction_id,
]


def _job(row: Sequence[Any]) -> Job:
    values = list(row)
    values[1] = tuple(name for name in values[1].split(",") if name)
    values[4] = aware(values[4])
    return Job(*values)


# The statements of every send run on the driver's cursor (app/db/prepared.py).
_INSERT_MESSAGE = Prepared(
    insert(MESSAGE).returning(M.id),
    keys=[
        "created_at", "gateway", "phone", "status", "attempts", "parts", "latency_ms",
        "provider_ids", "error", "finished_at", "source", "serial", "transaction_id", "route",
        "hop", "hop_tries", "deadline", "not_before", "lease_owner", "lease_until",
        "destination", "body", "challenge_id", "caller", "idempotency_key", "request_hash",
    ],
)  # fmt: skip
_INSERT_ATTEMPT = Prepared(
    insert(ATTEMPT).returning(A.id),
    keys=[
        "message_id", "gateway", "node", "started_at", "finished_at", "outcome", "error",
        "provider_ids", "parts",
    ],
)  # fmt: skip
_BEGUN = select(A.id).where(
    A.message_id == bindparam("p_id"),
    A.node == bindparam("p_node"),
    A.started_at == bindparam("p_now"),
    A.finished_at.is_(None),
)
_START = Prepared(
    update(MESSAGE)
    .where(M.id == bindparam("p_id"), M.lease_owner == bindparam("p_owner"))
    .values(
        status="sending",
        gateway=bindparam("p_gateway"),
        hop=bindparam("p_hop"),
        hop_tries=bindparam("p_hop_tries"),
        attempts=M.attempts + 1,
        lease_until=bindparam("p_until"),
    )
)
_FINISH_ATTEMPT = Prepared(
    update(ATTEMPT)
    .where(A.id == bindparam("p_id"))
    .values(
        finished_at=bindparam("p_now"),
        outcome=bindparam("p_outcome"),
        error=bindparam("p_error"),
        provider_ids=bindparam("p_ids"),
        parts=bindparam("p_parts"),
    )
)
_FINISH = Prepared(
    update(MESSAGE)
    .where(M.id == bindparam("p_id"), M.lease_owner == bindparam("p_owner"))
    .values(
        status=bindparam("p_status"),
        finished_at=bindparam("p_now"),
        error=bindparam("p_error"),
        provider_ids=bindparam("p_ids"),
        parts=bindparam("p_parts"),
        latency_ms=bindparam("p_latency"),
        report_due=bindparam("p_report_due"),
        lease_owner="",
        lease_until=None,
        not_before=None,
        body="",
        destination="",
    )
)
_REQUEUE = Prepared(
    update(MESSAGE)
    .where(M.id == bindparam("p_id"), M.lease_owner == bindparam("p_owner"))
    .values(
        status="queued",
        hop=bindparam("p_hop"),
        hop_tries=bindparam("p_hop_tries"),
        gateway=bindparam("p_gateway"),
        error=bindparam("p_error"),
        not_before=bindparam("p_due"),
        lease_owner="",
        lease_until=None,
    )
)
_CLOSE_CHALLENGE = Prepared(
    update(CHALLENGE).where(CHALLENGE.c.id == bindparam("p_id")).values(answered=True)
)


def stored_error(error: str) -> str:
    """An error as a message or attempt row keeps it."""
    return error[:1000]


def stored_latency(latency_ms: float) -> float:
    return round(latency_ms, 2)


def admit(tx: Session, row: dict[str, Any]) -> int:
    return int(_INSERT_MESSAGE(tx, row).scalar_one())


def start_attempt(
    tx: Session,
    *,
    message_id: int,
    owner: str,
    gateway: str,
    hop: int,
    hop_tries: int,
    now: datetime,
    lease_until: datetime,
    again: bool = False,
) -> int | None:
    """Record an attempt as begun; None if this process no longer holds the message.

    `again` when the same call is repeated because the answer to the first was lost: its
    commit may have happened, and then the attempt it recorded is the one to go on with.
    """
    if again:
        begun = tx.connection().execute(_BEGUN, {"p_id": message_id, "p_node": owner, "p_now": now})
        if (attempt_id := begun.scalar()) is not None:
            return int(attempt_id)
    moved = _START(
        tx,
        {
            "p_id": message_id,
            "p_owner": owner,
            "p_gateway": gateway,
            "p_hop": hop,
            "p_hop_tries": hop_tries,
            "p_until": lease_until,
        },
    ).rowcount
    if not moved:
        return None
    return insert_attempt(tx, message_id=message_id, gateway=gateway, node=owner, now=now)


def insert_attempt(tx: Session, *, message_id: int, gateway: str, node: str, now: datetime) -> int:
    row = {
        "message_id": message_id,
        "gateway": gateway,
        "node": node,
        "started_at": now,
        "finished_at": None,
        "outcome": "",
        "error": "",
        "provider_ids": "",
        "parts": 0,
    }
    return int(_INSERT_ATTEMPT(tx, row).scalar_one())


def finish_attempt(
    tx: Session,
    attempt_id: int,
    *,
    now: datetime,
    outcome: str,
    error: str = "",
    provider_ids: str = "",
    parts: int = 0,
) -> None:
    _FINISH_ATTEMPT(
        tx,
        {
            "p_id": attempt_id,
            "p_now": now,
            "p_outcome": outcome,
            "p_error": stored_error(error),
            "p_ids": provider_ids,
            "p_parts": parts,
        },
    )


def finish(
    tx: Session,
    message_id: int,
    *,
    owner: str,
    status: str,
    now: datetime,
    error: str = "",
    provider_ids: str = "",
    parts: int = 0,
    latency_ms: float = 0.0,
    challenge_id: int | None = None,
    report_due: datetime | None = None,
) -> bool:
    """Move the message to its final state and wipe what it carried; a challenge that got no
    SMS is closed. `report_due`: when a sent message whose gateway reports turns `unknown`
    without a final report. False if this process no longer holds the message."""
    moved = _FINISH(
        tx,
        {
            "p_id": message_id,
            "p_owner": owner,
            "p_status": status,
            "p_now": now,
            "p_error": stored_error(error),
            "p_ids": provider_ids,
            "p_parts": parts,
            "p_latency": stored_latency(latency_ms),
            "p_report_due": report_due,
        },
    ).rowcount
    if moved and status != "sent" and challenge_id is not None:
        _CLOSE_CHALLENGE(tx, {"p_id": challenge_id})
    return bool(moved)


def drop_attempt(tx: Session, attempt_id: int) -> None:
    tx.connection().execute(ATTEMPT.delete().where(A.id == attempt_id))


def close_challenge(tx: Session, challenge_id: int) -> None:
    _CLOSE_CHALLENGE(tx, {"p_id": challenge_id})


def requeue(
    tx: Session,
    message_id: int,
    *,
    owner: str,
    gateway: str,
    hop: int,
    hop_tries: int,
    due: datetime,
    error: str,
) -> bool:
    parameters = {
        "p_id": message_id,
        "p_owner": owner,
        "p_gateway": gateway,
        "p_hop": hop,
        "p_hop_tries": hop_tries,
        "p_due": due,
        "p_error": error[:1000],
    }
    return bool(_REQUEUE(tx, parameters).rowcount)


def notify(tx: Session) -> None:
    """Wake the senders of every node once this transaction commits (PostgreSQL)."""
    if tx.connection().dialect.name == "postgresql":
        tx.connection().execute(text(f"NOTIFY {CHANNEL}"))


def claim(
    tx: Session,
    *,
    owner: str,
    now: datetime,
    lease_until: datetime,
    limit: int,
    skip_gateways: Sequence[str] = (),
    fences: Sequence[Fence] = (),
) -> list[Job]:
    """Take up to `limit` due messages: a conditional update, so each goes to one process.

    On PostgreSQL SKIP LOCKED lets concurrent claimers pass each other's rows; on SQLite the
    single writer serialises claims. Messages for `skip_gateways` (modems with an owner) are
    left alone, except those of the modems this process owns, claimed only while the
    `modem_owner` row still names it at its epoch.
    """
    jobs: list[Job] = []
    for fence in fences:
        held = (
            select(OWNER.c.device)
            .where(
                OWNER.c.device == fence.device,
                OWNER.c.owner == fence.owner,
                OWNER.c.epoch == fence.epoch,
            )
            .exists()
        )
        due = _due(now, limit - len(jobs)).where(M.gateway.in_(list(fence.gateways)), held)
        jobs += _claim(tx, due, owner, lease_until)
    if len(jobs) < limit:
        due = _due(now, limit - len(jobs))
        if skip_gateways:
            due = due.where(M.gateway.not_in(list(skip_gateways)))
        jobs += _claim(tx, due, owner, lease_until)
    return jobs


def _due(now: datetime, limit: int) -> Select[tuple[int]]:
    return (
        select(M.id)
        .where(M.status == "queued", M.not_before <= now)
        .order_by(M.not_before, M.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _claim(tx: Session, due: Select[tuple[int]], owner: str, until: datetime) -> list[Job]:
    claimed = (
        update(MESSAGE)
        .where(M.id.in_(due.scalar_subquery()), M.status == "queued")
        .values(status="sending", lease_owner=owner, lease_until=until)
        .returning(*_JOB_COLUMNS)
    )
    return [_job(row) for row in tx.connection().execute(claimed)]


def reclaim_expired(
    tx: Session, *, owner: str, now: datetime, lease_until: datetime, limit: int
) -> list[Job]:
    """Take messages whose sender's lease ran out: that process died or lost the database."""
    stale = (
        select(M.id)
        .where(M.status == "sending", M.lease_until < now)
        .order_by(M.lease_until)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    taken = (
        update(MESSAGE)
        .where(M.id.in_(stale.scalar_subquery()), M.status == "sending", M.lease_until < now)
        .values(lease_owner=owner, lease_until=lease_until)
        .returning(*_JOB_COLUMNS)
    )
    return [_job(row) for row in tx.connection().execute(taken)]


def renew_leases(tx: Session, *, owner: str, ids: Sequence[int], until: datetime) -> int:
    """Extend the leases of the messages this process is driving."""
    if not ids:
        return 0
    return int(
        tx.connection()
        .execute(
            update(MESSAGE)
            .where(M.id.in_(list(ids)), M.status == "sending", M.lease_owner == owner)
            .values(lease_until=until)
        )
        .rowcount
    )


def close_open_attempts(tx: Session, message_id: int, *, now: datetime, error: str) -> int:
    """Attempts left open by a dead process: whether they went out, nobody knows."""
    return int(
        tx.connection()
        .execute(
            update(ATTEMPT)
            .where(A.message_id == message_id, A.outcome == "")
            .values(finished_at=now, outcome="unknown", error=error)
        )
        .rowcount
    )


def by_idempotency_key(tx: Session, caller: str, key: str) -> tuple[int, str, datetime] | None:
    row = (
        tx.connection()
        .execute(
            select(M.id, M.request_hash, M.created_at).where(
                M.caller == caller, M.idempotency_key == key
            )
        )
        .first()
    )
    return None if row is None else (int(row[0]), str(row[1]), aware(row[2]))


def forget_idempotency_key(tx: Session, message_id: int) -> None:
    tx.connection().execute(update(MESSAGE).where(M.id == message_id).values(idempotency_key=None))


def forget_old_keys(tx: Session, before: datetime) -> None:
    tx.connection().execute(
        update(MESSAGE)
        .where(M.idempotency_key.is_not(None), M.created_at < before)
        .values(idempotency_key=None)
    )


def queued_count(tx: Session) -> int:
    return int(
        tx.connection()
        .execute(
            select(func.count()).select_from(MESSAGE).where(M.status.in_(["queued", "sending"]))
        )
        .scalar_one()
    )


def state(tx: Session, message_id: int) -> tuple[str, str]:
    row = tx.connection().execute(select(M.status, M.error).where(M.id == message_id)).one()
    return str(row[0]), str(row[1])


def withdraw(
    tx: Session, message_id: int, *, now: datetime, error: str, challenge_id: int | None
) -> bool:
    """Fail a message that is still queued (nobody sends it); its challenge is closed."""
    moved = (
        tx.connection()
        .execute(
            update(MESSAGE)
            .where(M.id == message_id, M.status == "queued")
            .values(
                status="failed",
                finished_at=now,
                error=error,
                body="",
                destination="",
                not_before=None,
            )
        )
        .rowcount
    )
    if moved and challenge_id is not None:
        close_challenge(tx, challenge_id)
    return bool(moved)
