"""One message driven along its route: attempt, decide on the error's class, retry, fail
over, or stop. A synchronous caller runs it inline within its budget; the sender runs the
same code for queued messages."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from sqlalchemy.orm import Session

from app.db.tables import utcnow
from app.delivery import content, outbox_repo, policy, receipts_repo, steady
from app.delivery.config import DeliveryConfig
from app.delivery.outbox_repo import Job
from app.delivery.scrub import excerpt
from app.errors import NotFound
from app.observability import sends
from app.traffic.gateway_limits import admitted
from providers.base import RejectedByGateway, SendError, SendResult, internal_error
from providers.registry import OptionsInvalid, UnknownProvider

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger("smsgw.delivery")
Status = Literal["sent", "failed", "expired", "queued", "lost"]
NOT_IN_BUDGET = "not sent within sms.inline_budget"
STILL_SENDING = "still being sent when sms.inline_budget ended"
# A wait shorter than this is slept through holding the lease; a longer one goes back to
# the queue, freeing the sender's slot (any node may then take it).
_WAIT_INLINE = 1.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One finished attempt as it was written."""

    gateway: str
    node: str
    started_at: datetime
    finished_at: datetime
    outcome: str
    error: str
    provider_ids: str


@dataclass(frozen=True)
class Result:
    status: Status
    error: str = ""
    # What the final write stored, when this call made every attempt of the message (a
    # synchronous send driven from its admission): the caller answers from it without
    # reading the message back. None when attempts were made elsewhere.
    attempts: tuple[Attempt, ...] | None = None
    finished_at: datetime | None = None
    provider_ids: str = ""
    parts: int = 0
    latency_ms: float = 0.0


async def _send(
    rt: Runtime, gateway: str, phone: str, text: str, max_wait: float
) -> tuple[SendResult, bool]:
    """One send through the named gateway, and whether the gateway sends delivery reports;
    every failure is a SendError. The gateway's limits (app/traffic) hold it up to
    `max_wait` seconds, else it is Throttled, saying why."""
    from app.services import gateways  # the services import the delivery package

    try:
        config = await gateways.config_for_send(rt, gateway)
    except NotFound as exc:
        raise RejectedByGateway("gateway_missing", exc.message) from None
    from app.services import circuit

    if await circuit.is_open(rt, gateway):
        raise circuit.refusal(gateway)  # not tried: the policy fails over
    if rt.delivery.ownership is not None:
        refusal = await rt.delivery.ownership.refusal(config)
        if refusal is not None:
            raise refusal
    try:
        async with admitted(rt, config, max_wait), rt.pool.lease(config) as provider:
            result = await provider.send(phone, text)
            return result, bool(config.dlr_token) or provider.receives_receipts
    except SendError:
        raise
    except (OptionsInvalid, UnknownProvider) as exc:
        # Stored before validation existed, or its provider was removed.
        raise RejectedByGateway("gateway_unusable", f"gateway definition unusable: {exc}") from None
    except Exception as exc:
        # Whatever else goes wrong, the send failed: the engine decides, the caller gets no 500.
        raise internal_error(exc, f"sending through {gateway}") from None


def _limit_wait(job: Job, now: datetime, budget_end: float | None) -> float:
    """How long a send may wait for its gateway's limits: what fits the deadline (and the
    caller's budget), at most a wait worth holding the lease for; a longer one is Throttled
    and goes back to the queue or fails over."""
    wait = min(_WAIT_INLINE, (job.deadline - now).total_seconds())
    if budget_end is not None:
        wait = min(wait, budget_end - time.monotonic())
    return max(0.0, wait)


async def drive(
    rt: Runtime,
    job: Job,
    config: DeliveryConfig,
    *,
    attempt_id: int | None = None,
    text: str | None = None,
    budget_end: float | None = None,
    started_at: datetime | None = None,
    phone: str | None = None,
) -> Result:
    """Drive `job` (held by this process) until it is final or waits in the queue.

    `attempt_id` is an attempt already recorded as begun (admitted inline) at `started_at`;
    `text` and `phone` are in the clear if the caller has them; `budget_end` (monotonic)
    bounds a synchronous caller's wait. Given `started_at` (the message has no other
    attempt), the result carries the attempts as written.
    """
    rt.delivery.held.add(job.id)
    sends.message_started()
    try:
        trail = _Trail(started_at) if started_at is not None else None
        return await _drive(rt, job, config, attempt_id, text, budget_end, trail, phone)
    finally:
        rt.delivery.held.discard(job.id)


async def _drive(
    rt: Runtime,
    job: Job,
    config: DeliveryConfig,
    attempt_id: int | None,
    text: str | None,
    budget_end: float | None,
    trail: _Trail | None,
    phone: str | None = None,
) -> Result:
    while True:
        now = utcnow()
        if job.deadline <= now:
            return await _final(
                rt, job, attempt_id, "expired", "deadline passed before a send", trail=trail
            )
        if text is None:
            try:
                text = await content.text_of(rt, job, now)
            except content.Unsendable as exc:
                return await _final(rt, job, attempt_id, "failed", f"not sent: {exc}", trail=trail)
        gateway = job.route[job.hop]
        if await _owned_elsewhere(rt, gateway):
            return await _hand_over(rt, job, attempt_id, budget_end)
        if attempt_id is None:
            attempt_id = await _start(rt, job, gateway, now)
            if attempt_id is None:
                return Result("lost", "the lease passed to another process")
            if trail is not None:
                trail.begun = now
        job = replace(job, hop_tries=job.hop_tries + 1)
        clock = time.perf_counter()
        if phone is None:
            phone = rt.box.open(job.destination)
        sends.hide(phone, text)
        try:
            result, reports = await _send(
                rt, gateway, phone, text, _limit_wait(job, now, budget_end)
            )
        except SendError as error:
            sends.attempt_finished(gateway, error, time.perf_counter() - clock)
            described = excerpt(
                f"{gateway}: {error.code}: {error.message}", phone=phone, message=text
            )
            step = await _after_failure(
                rt, job, attempt_id, error, described, config, budget_end, trail
            )
            if isinstance(step, Result):
                return step
            job, attempt_id = step, None
            continue
        latency = (time.perf_counter() - clock) * 1000
        sends.attempt_finished(gateway, None, latency / 1000)
        # Only ids a report can name are awaited: without them no report could match.
        awaited = reports and bool(result.message_ids)
        return await _final(
            rt,
            job,
            attempt_id,
            "sent",
            provider_ids=",".join(result.message_ids),
            parts=result.parts,
            latency_ms=latency,
            trail=trail,
            report_due=now + timedelta(seconds=config.dlr_timeout) if awaited else None,
            reported_ids=result.message_ids if awaited else (),
        )


_FOLLOW_STEP = 0.02  # seconds between looks at a message another process sends


async def follow(rt: Runtime, job: Job, budget_end: float) -> Result:
    """Wait for another process to finish the message; past the budget, withdraw it if it
    is still queued (the caller is told it failed, so it must not go out later), or answer
    that it is on its way if a sender is still trying it: a synchronous caller is never
    kept past its budget by a gateway that keeps the message waiting (an open circuit, a
    throttle), and the message may still arrive before its deadline."""
    while True:
        status, error = await rt.db.read(lambda tx: outbox_repo.state(tx, job.id))
        if status in outbox_repo.REPORTED:
            return Result("sent", error)
        if status in outbox_repo.FINAL:
            return Result(status, error)  # type: ignore[arg-type]
        now = time.monotonic()
        if now >= budget_end and status == "queued":
            withdrawn = await steady.write(
                rt.delivery,
                lambda tx: outbox_repo.withdraw(
                    tx, job.id, now=utcnow(), error=NOT_IN_BUDGET, challenge_id=job.challenge_id
                ),
            )
            if withdrawn:
                return Result("failed", NOT_IN_BUDGET)
        if now >= budget_end and status == "sending":
            return Result("queued", STILL_SENDING)
        await asyncio.sleep(_FOLLOW_STEP)


async def _owned_elsewhere(rt: Runtime, gateway: str) -> bool:
    from app.services import gateways  # the services import the delivery package

    ownership = rt.delivery.ownership
    if ownership is None:
        return False
    try:
        config = await gateways.config_for_send(rt, gateway)
    except NotFound:
        return False  # the attempt fails over with the reason
    return await ownership.elsewhere(config)


async def _hand_over(
    rt: Runtime, job: Job, attempt_id: int | None, budget_end: float | None
) -> Result:
    """The modem of the current gateway is another process's: back to the queue for its
    owner (an attempt begun inline is withdrawn: nothing was sent); a synchronous caller
    follows the message there."""
    node = rt.delivery

    def requeue(tx: Session) -> None:
        if attempt_id is not None:
            outbox_repo.drop_attempt(tx, attempt_id)
        outbox_repo.requeue(
            tx,
            job.id,
            owner=node.name,
            gateway=job.route[job.hop],
            hop=job.hop,
            hop_tries=job.hop_tries,
            due=utcnow(),
            error="",
        )
        outbox_repo.notify(tx)

    await steady.write(node, requeue)
    if budget_end is None:
        return Result("queued")
    return await follow(rt, job, budget_end)


async def _start(rt: Runtime, job: Job, gateway: str, now: datetime) -> int | None:
    """Record the next attempt as begun and renew the lease; None if the lease is lost."""
    node = rt.delivery
    until = now + timedelta(seconds=node.lease_seconds)
    runs = 0

    def begin(tx: Session) -> int | None:
        nonlocal runs
        runs += 1
        return outbox_repo.start_attempt(
            tx,
            message_id=job.id,
            owner=node.name,
            gateway=gateway,
            hop=job.hop,
            hop_tries=job.hop_tries + 1,
            now=now,
            lease_until=until,
            again=runs > 1,  # steady.write retries after an unreachable database
        )

    return await steady.write(node, begin)


async def _after_failure(
    rt: Runtime,
    job: Job,
    attempt_id: int,
    error: SendError,
    described: str,
    config: DeliveryConfig,
    budget_end: float | None,
    trail: _Trail | None = None,
) -> Job | Result:
    """Record the failed attempt (`described`: its scrubbed text) and decide: the job to
    try next, or how it ended."""
    node = rt.delivery
    log.warning("send of message %s failed: %s", job.id, described)
    now = utcnow()
    remaining = (job.deadline - now).total_seconds()
    step = policy.next_step(
        error,
        hops=len(job.route),
        hop=job.hop,
        hop_tries=job.hop_tries,
        remaining=remaining,
        config=config,
    )
    outcome = policy.outcome_of(error)
    if step.action == "fail":
        return await _final(rt, job, attempt_id, "failed", described, outcome=outcome, trail=trail)
    if step.delay >= remaining:
        return await _final(
            rt,
            job,
            attempt_id,
            "expired",
            f"{described}; no time left before the deadline",
            outcome=outcome,
            trail=trail,
        )
    if budget_end is not None and time.monotonic() + step.delay >= budget_end:
        return await _final(
            rt,
            job,
            attempt_id,
            "failed",
            f"{described}; not sent within sms.inline_budget",
            outcome=outcome,
            trail=trail,
        )
    tries = job.hop_tries - (0 if step.spends_try else 1) if step.hop == job.hop else 0
    nxt = replace(job, hop=step.hop, hop_tries=tries)
    if budget_end is None and step.delay > _WAIT_INLINE:
        due = now + timedelta(seconds=step.delay)

        def back_to_queue(tx: Session) -> None:
            outbox_repo.finish_attempt(tx, attempt_id, now=now, outcome=outcome, error=described)
            outbox_repo.requeue(
                tx,
                job.id,
                owner=node.name,
                gateway=nxt.route[nxt.hop],
                hop=nxt.hop,
                hop_tries=nxt.hop_tries,
                due=due,
                error=described,
            )

        await steady.write(node, back_to_queue)
        node.nudge_in(step.delay)
        return Result("queued", described)
    await steady.write(
        node,
        lambda tx: outbox_repo.finish_attempt(
            tx, attempt_id, now=now, outcome=outcome, error=described
        ),
    )
    if trail is not None:
        trail.add(job.route[job.hop], node.name, now, outcome, described, "")
    if step.delay > 0:
        await asyncio.sleep(step.delay)  # the backoff itself, holding the lease
    return nxt


async def _final(
    rt: Runtime,
    job: Job,
    attempt_id: int | None,
    status: Literal["sent", "failed", "expired"],
    error: str = "",
    *,
    outcome: policy.Outcome = "accepted",
    provider_ids: str = "",
    parts: int = 0,
    latency_ms: float = 0.0,
    trail: _Trail | None = None,
    report_due: datetime | None = None,
    reported_ids: Sequence[str] = (),
) -> Result:
    node = rt.delivery
    now = utcnow()
    gateway = job.route[job.hop]

    def settle(tx: Session) -> bool:
        if attempt_id is not None:
            outbox_repo.finish_attempt(
                tx,
                attempt_id,
                now=now,
                outcome=outcome,
                error=error if status != "sent" else "",
                provider_ids=provider_ids,
                parts=parts,
            )
        moved = outbox_repo.finish(
            tx,
            job.id,
            owner=node.name,
            status=status,
            now=now,
            error=error,
            provider_ids=provider_ids,
            parts=parts,
            latency_ms=latency_ms,
            challenge_id=job.challenge_id,
            report_due=report_due,
        )
        # A gateway that reports: its ids in the same transaction, so a receipt that came
        # before this answer was committed (kept without a message) is applied now.
        if moved and reported_ids and receipts_repo.adopt(tx, gateway, job.id, reported_ids):
            receipts_repo.settle(tx, job.id)
        return moved

    if not await steady.write(node, settle):
        return Result("lost", "the lease passed to another process")
    if status != "sent":
        log.warning("message %s %s: %s", job.id, status, error)
    sends.message_finished(job.route[job.hop], status, None, job.id, source=job.source)
    if trail is None:
        return Result(status, error)
    if attempt_id is not None:
        written = error if status != "sent" else ""
        trail.add(job.route[job.hop], node.name, now, outcome, written, provider_ids)
    return Result(
        status,
        error,
        attempts=tuple(trail.attempts),
        finished_at=now,
        provider_ids=provider_ids,
        parts=parts,
        latency_ms=outbox_repo.stored_latency(latency_ms),
    )


class _Trail:
    """The attempts one drive wrote, kept to answer a synchronous caller from memory."""

    def __init__(self, begun: datetime) -> None:
        self.begun = begun  # the start of the attempt in flight
        self.attempts: list[Attempt] = []

    def add(
        self,
        gateway: str,
        node: str,
        now: datetime,
        outcome: str,
        error: str,
        provider_ids: str,
    ) -> None:
        self.attempts.append(
            Attempt(
                gateway,
                node,
                self.begun,
                now,
                outcome,
                outbox_repo.stored_error(error),
                provider_ids,
            )
        )
