"""Tokens and their challenges. Plain functions on a Session: callers run them through
Database.write / Database.read, one thread hop per transaction on SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session

from app.db.tables import Challenge, Token

# SQLModel columns are typed as plain attributes; SQLAlchemy sees them as columns.
T = Token.__table__.c  # type: ignore[attr-defined]
C = Challenge.__table__.c  # type: ignore[attr-defined]


def add(tx: Session, token: Token) -> None:
    tx.add(token)
    tx.flush()


def serial_taken(tx: Session, serial: str) -> bool:
    return tx.execute(select(T.id).where(T.serial == serial)).first() is not None


def by_serial(tx: Session, serial: str) -> Token | None:
    return tx.execute(select(Token).where(T.serial == serial)).scalar_one_or_none()


def of_user(tx: Session, username: str, realm: str) -> Sequence[Token]:
    query = select(Token).where(T.username == username, T.realm == realm).order_by(T.id)
    return tx.execute(query).scalars().all()


def page(
    tx: Session, *, serial: str | None, user: str | None, realm: str | None, offset: int, limit: int
) -> tuple[int, Sequence[Token]]:
    query = select(Token)
    if serial is not None:
        query = query.where(T.serial == serial)
    if user is not None:
        query = query.where(T.username == user)
    if realm is not None:
        query = query.where(T.realm == realm)
    total = tx.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = tx.execute(query.order_by(T.id).offset(offset).limit(limit)).scalars().all()
    return int(total), rows


def delete_serial(tx: Session, serial: str) -> int:
    tx.execute(delete(Challenge).where(C.serial == serial))
    return int(tx.execute(delete(Token).where(T.serial == serial)).rowcount)  # type: ignore[attr-defined]


def set_fields(tx: Session, serials: Sequence[str], **values: object) -> int:
    result = tx.execute(update(Token).where(T.serial.in_(serials)).values(**values))
    return int(result.rowcount)  # type: ignore[attr-defined]


def count_failure(tx: Session, serials: Sequence[str]) -> None:
    """One more failure for each token, counted by the database so no attempt is lost."""
    tx.execute(
        update(Token)
        .where(T.serial.in_(serials), T.failcount < T.maxfail)
        .values(failcount=T.failcount + 1)
    )


def reserve_counter(tx: Session, serial: str) -> int:
    """Take the token's next HOTP counter value; concurrent challenges get distinct ones."""
    statement = (
        update(Token).where(T.serial == serial).values(counter=T.counter + 1).returning(T.counter)
    )
    return int(tx.execute(statement).scalar_one()) - 1


def open_challenges(tx: Session, serials: Sequence[str], now: datetime) -> Sequence[Challenge]:
    query = select(Challenge).where(
        C.serial.in_(serials), C.answered.is_(False), C.expires_at > now
    )
    return tx.execute(query.order_by(C.id)).scalars().all()


def challenges_of_transaction(
    tx: Session, transaction_id: str, now: datetime
) -> Sequence[Challenge]:
    query = select(Challenge).where(
        C.transaction_id == transaction_id, C.answered.is_(False), C.expires_at > now
    )
    return tx.execute(query).scalars().all()


def add_challenge(tx: Session, challenge: Challenge) -> None:
    tx.add(challenge)
    tx.flush()


def close_open_challenges(tx: Session, serial: str) -> None:
    """A new challenge makes the token's older ones unanswerable (no concurrent challenges)."""
    tx.execute(
        update(Challenge).where(C.serial == serial, C.answered.is_(False)).values(answered=True)
    )


def drop_challenge(tx: Session, challenge_id: int) -> None:
    tx.execute(delete(Challenge).where(C.id == challenge_id))


def answer(tx: Session, challenge_id: int, serial: str, counter: int) -> bool:
    """Mark the challenge answered, once: of concurrent right answers exactly one wins."""
    won = tx.execute(
        update(Challenge).where(C.id == challenge_id, C.answered.is_(False)).values(answered=True)
    ).rowcount  # type: ignore[attr-defined]
    if won:
        tx.execute(
            update(Token)
            .where(T.serial == serial)
            .values(failcount=0, counter=case((T.counter > counter, T.counter), else_=counter + 1))
        )
    return bool(won)


def purge_expired(tx: Session, before: datetime) -> None:
    tx.execute(delete(Challenge).where(C.expires_at < before))
