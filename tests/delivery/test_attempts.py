"""An attempt is recorded once, even when the write that begins it is repeated because the
answer to its commit was lost."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.db.tables import DeliveryAttempt, MessageLog, utcnow
from app.delivery import intake, outbox_repo

PHONE = "+491701234567"


async def test_beginning_an_attempt_again_after_a_lost_answer_records_one_attempt(runtime):
    node, now = runtime.delivery, utcnow()
    admitted = await runtime.db.write(
        lambda tx: intake.admit(
            tx,
            node,
            route=["gw"],
            message=intake.Sealed.of(runtime.box, PHONE, "hello"),
            deadline=now + timedelta(minutes=5),
            inline=True,
            now=now,
            source="api",
        )
    )
    message_id, later = admitted.job.id, now + timedelta(seconds=1)

    def begin(again: bool):
        return lambda tx: outbox_repo.start_attempt(
            tx,
            message_id=message_id,
            owner=node.name,
            gateway="gw",
            hop=0,
            hop_tries=2,
            now=later,
            lease_until=later + timedelta(seconds=node.lease_seconds),
            again=again,
        )

    first = await runtime.db.write(begin(again=False))  # committed; its answer "lost"
    repeated = await runtime.db.write(begin(again=True))

    assert repeated == first
    open_attempts = await runtime.db.read(
        lambda tx: tx.execute(
            select(func.count()).where(
                DeliveryAttempt.message_id == message_id, DeliveryAttempt.finished_at.is_(None)
            )
        ).scalar_one()
    )
    attempts = await runtime.db.read(
        lambda tx: tx.execute(
            select(MessageLog.attempts).where(MessageLog.id == message_id)
        ).scalar_one()
    )
    assert (open_attempts, attempts) == (2, 2)  # the inline one, then this one: no third
