"""A message's text at send time. A challenge's OTP is never stored: it is rebuilt from the
token's key and the counter the challenge reserved; a /sms/send body is unsealed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.tables import Challenge, Token, table
from app.delivery.outbox_repo import Job, aware
from app.security import hotp

if TYPE_CHECKING:
    from app.runtime import Runtime

CHALLENGE = table(Challenge)
TOKEN = table(Token)


class Unsendable(Exception):
    """The message has nothing left worth sending (its challenge was answered or closed)."""


def challenge_text(
    template: str, *, key: bytes, counter: int, otplen: int, serial: str, user: str, realm: str
) -> str:
    otp = hotp.hotp(key, counter, otplen)
    return (
        template.replace("<otp>", otp)
        .replace("{otp}", otp)
        .replace("{serial}", serial)
        .replace("{user}", user)
        .replace("{realm}", realm)
    )


_CHALLENGE_AND_TOKEN = select(
    CHALLENGE.c.transaction_id,
    CHALLENGE.c.counter,
    CHALLENGE.c.answered,
    CHALLENGE.c.expires_at,
    TOKEN.c.otpkey,
    TOKEN.c.otplen,
    TOKEN.c.serial,
    TOKEN.c.username,
    TOKEN.c.realm,
).join_from(CHALLENGE, TOKEN, TOKEN.c.serial == CHALLENGE.c.serial)


@dataclass(frozen=True, slots=True)
class _Source:
    transaction_id: str
    counter: int
    answered: bool
    expires_at: datetime
    otpkey: str  # sealed
    otplen: int
    serial: str
    user: str
    realm: str


def _load(tx: Session, challenge_id: int) -> _Source | None:
    row = (
        tx.connection().execute(_CHALLENGE_AND_TOKEN.where(CHALLENGE.c.id == challenge_id)).first()
    )
    return None if row is None else _Source(*list(row))


async def text_of(rt: Runtime, job: Job, now: datetime) -> str:
    """The text to send now; Unsendable if its challenge is gone, answered or expired."""
    if job.challenge_id is None:
        return rt.box.open(job.body)
    challenge_id = job.challenge_id
    source = await rt.db.read(lambda tx: _load(tx, challenge_id))
    # SQLite may give a deleted challenge's id to a new one: only the very same challenge
    # (its token and transaction) may lend this message its OTP.
    if source is None or (source.serial, source.transaction_id) != (
        job.serial,
        job.transaction_id,
    ):
        raise Unsendable("its challenge no longer exists")
    if source.answered:
        raise Unsendable("its challenge was answered or closed")
    if aware(source.expires_at) <= now:
        raise Unsendable("its challenge expired")
    from app.services import system_config  # the services import the delivery package

    template = (await system_config.sms(rt)).text
    return challenge_text(
        template,
        key=bytes.fromhex(rt.box.open(source.otpkey)),
        counter=source.counter,
        otplen=source.otplen,
        serial=source.serial,
        user=source.user,
        realm=source.realm,
    )
