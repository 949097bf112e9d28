"""Admitting messages into the outbox, in the transaction of their cause, and what a
caller then waits for: nothing (async), or the first accepted attempt (sync)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.tables import utcnow
from app.delivery import engine, outbox_repo
from app.delivery.config import DeliveryConfig
from app.delivery.node import Node
from app.delivery.outbox_repo import Job
from app.errors import SmsgwError
from app.security.secret_box import SecretBox
from app.services.phone import mask

if TYPE_CHECKING:
    from app.runtime import Runtime

IDEMPOTENCY_HOURS = 24


class IdempotencyMismatch(SmsgwError):
    status, code = 422, 905


EXPIRED = "deadline passed before a send"


@dataclass(frozen=True)
class Admitted:
    job: Job
    attempt_id: int | None  # begun already: the caller sends inline
    expired: bool = False  # admitted past its deadline: final at once, never sent
    row: dict[str, object] = field(default_factory=dict)  # the values written
    started_at: datetime | None = None  # of the attempt begun at admission
    phone: str | None = field(default=None, repr=False)  # in the clear, to send inline


@dataclass(frozen=True)
class Sealed:
    """A message's number and text in the clear and sealed: sealed before its transaction,
    so that the encryption does not lengthen the time the transaction holds the writer."""

    phone: str = field(repr=False)
    destination: str = field(repr=False)
    body: str = field(repr=False)

    @classmethod
    def of(cls, box: SecretBox, phone: str, body: str = "") -> Sealed:
        return cls(phone, box.seal(phone), box.seal(body) if body else "")


def parse_route(identifier: str) -> list[str]:
    """`sms.identifier` may name several gateways, comma-separated, in order."""
    return [name.strip() for name in identifier.split(",") if name.strip()]


def admit(
    tx: Session,
    node: Node,
    *,
    route: list[str],
    message: Sealed,
    deadline: datetime,
    inline: bool,
    now: datetime,
    source: str,
    challenge_id: int | None = None,
    serial: str = "",
    transaction_id: str = "",
    caller: str = "",
    idempotency_key: str | None = None,
    request_hash: str = "",
) -> Admitted:
    """Write the message (and, to send inline, its first attempt) in the caller's transaction.

    Inline, this process holds the lease from the start, so a crash before the answer
    still leaves a message that another process picks up once the lease expires.
    """
    expired = deadline <= now
    inline = inline and not expired
    until = now + timedelta(seconds=node.lease_seconds)
    phone, sealed_phone, sealed_body = message.phone, message.destination, message.body
    if expired:
        sealed_phone = sealed_body = ""
    row = {
        "created_at": now,
        "gateway": route[0],
        "phone": mask(phone),
        "status": "expired" if expired else "sending" if inline else "queued",
        "attempts": 1 if inline else 0,
        "parts": 0,
        "latency_ms": 0.0,
        "provider_ids": "",
        "error": EXPIRED if expired else "",
        "finished_at": now if expired else None,
        "source": source,
        "serial": serial,
        "transaction_id": transaction_id,
        "route": ",".join(route),
        "hop": 0,
        "hop_tries": 1 if inline else 0,
        "deadline": deadline,
        "not_before": now,
        "lease_owner": node.name if inline else "",
        "lease_until": until if inline else None,
        "destination": sealed_phone,
        "body": sealed_body,
        "challenge_id": challenge_id,
        "caller": caller,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
    }
    message_id = outbox_repo.admit(tx, row)
    attempt_id = None
    if inline:
        attempt_id = outbox_repo.insert_attempt(
            tx, message_id=message_id, gateway=route[0], node=node.name, now=now
        )
    elif expired:
        if challenge_id is not None:
            outbox_repo.close_challenge(tx, challenge_id)
    else:
        outbox_repo.notify(tx)
    job = Job(
        id=message_id,
        route=tuple(route),
        hop=0,
        hop_tries=0,
        deadline=deadline,
        destination=sealed_phone,
        body=sealed_body,
        challenge_id=challenge_id,
        source=source,
        serial=serial,
        transaction_id=transaction_id,
    )
    started_at = now if attempt_id is not None else None
    return Admitted(
        job,
        attempt_id,
        expired,
        {**row, "id": message_id},
        started_at,
        phone if attempt_id is not None else None,
    )


def can_send_inline(rt: Runtime, route: list[str]) -> bool:
    """Whether this process may make the first attempt itself: not when another process
    owns the first gateway's modem (the message then goes to that process's queue)."""
    ownership = rt.delivery.ownership
    return ownership is None or ownership.verdict(route[0]) != "elsewhere"


async def settle(
    rt: Runtime,
    admitted: Admitted,
    config: DeliveryConfig,
    text: str | None = None,
    *,
    wait: bool = False,
) -> engine.Result:
    """Send inline what was admitted inline (within sms.inline_budget); else wake the
    sender, and with `wait` follow the message until it is final or the budget is spent."""
    if admitted.expired:
        return engine.Result("expired", EXPIRED)
    if admitted.attempt_id is None:
        rt.delivery.nudge()
        if not wait:
            return engine.Result("queued")
        return await engine.follow(rt, admitted.job, time.monotonic() + config.inline_budget)
    return await engine.drive(
        rt,
        admitted.job,
        config,
        attempt_id=admitted.attempt_id,
        text=text,
        budget_end=time.monotonic() + config.inline_budget,
        started_at=admitted.started_at,
        phone=admitted.phone,
    )


def request_hash(**body: object) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def admit_api(
    rt: Runtime,
    *,
    route: list[str],
    phone: str,
    message: str,
    inline: bool,
    config: DeliveryConfig,
    caller: str,
    idempotency_key: str | None,
    body_hash: str,
) -> tuple[Admitted | None, int]:
    """Admit a /sms/send message; (None, id of the first) for a repeated Idempotency-Key."""
    now = utcnow()
    deadline = now + timedelta(seconds=config.send_validity)
    sealed = Sealed.of(rt.box, phone, message)

    def write(tx: Session) -> tuple[Admitted | None, int]:
        if idempotency_key is not None:
            earlier = outbox_repo.by_idempotency_key(tx, caller, idempotency_key)
            if earlier is not None:
                message_id, stored_hash, created = earlier
                if created > now - timedelta(hours=IDEMPOTENCY_HOURS):
                    if stored_hash != body_hash:
                        raise IdempotencyMismatch(
                            "ERR905: Invalid parameter: Idempotency-Key: already used "
                            f"with a different request (message {message_id})"
                        )
                    return None, message_id
                outbox_repo.forget_idempotency_key(tx, message_id)
        admitted = admit(
            tx,
            rt.delivery,
            route=route,
            message=sealed,
            deadline=deadline,
            inline=inline,
            now=now,
            source="api",
            caller=caller,
            idempotency_key=idempotency_key,
            request_hash=body_hash,
        )
        return admitted, admitted.job.id

    try:
        return await rt.delivery.group.run(write)
    except IntegrityError:
        if idempotency_key is None:
            raise
        # The same key in a concurrent request committed first: answer as a repeat.
        return await rt.delivery.group.run(write)
