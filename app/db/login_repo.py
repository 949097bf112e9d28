"""The queries of a login (/validate), prebuilt Core statements run on the driver's cursor.

Every login runs them, so they are built once, with bound parameters, select only the
columns they need and skip the ORM and SQLAlchemy's execution path (app/db/prepared.py):
building a statement per call costs more CPU than running it (about 0.65 ms against
0.17 ms for an answer's transaction, measured here). A token or serial list of one, the
usual case, has its own equality statement: an expanding IN renders anew on every run.

Counters change by single statements, so several workers and hosts may serve one user at
once: a challenge is answered by an UPDATE that only one transaction can win, and every
guess first reserves a failure with an UPDATE that only `maxfail` guesses can pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, case, delete, insert, select, update
from sqlalchemy.orm import Session

from app.db.prepared import Prepared
from app.db.tables import Challenge, Token, table

TOKEN = table(Token)
CHALLENGE = table(Challenge)
T = TOKEN.c
C = CHALLENGE.c


@dataclass(frozen=True, slots=True)
class LoginToken:
    """What a login needs to know about a token."""

    serial: str
    username: str
    realm: str
    active: bool
    failcount: int
    maxfail: int
    otplen: int
    otpkey: str  # sealed with the secret box
    pin_hash: str
    phone: str
    sms_identifier: str
    last_fail: datetime | None
    counter: int  # the next HOTP counter: every lower one has been sent

    def locked(self, cleared_before: datetime) -> bool:
        """At maxfail, unless the last failure is so old that the counter clears."""
        if self.failcount < self.maxfail:
            return False
        last = self.last_fail
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)  # SQLite hands back naive UTC
        return last is None or last >= cleared_before


@dataclass(frozen=True, slots=True)
class OpenChallenge:
    id: int
    serial: str
    counter: int


_TOKEN_COLUMNS = [T[name] for name in LoginToken.__slots__]
_CHALLENGE_COLUMNS = [C.id, C.serial, C.counter]
_BY_SERIAL = T.serial == bindparam("p_serial")
_BY_USER = (T.username == bindparam("p_user")) & (T.realm == bindparam("p_realm"))
_OPEN = C.answered.is_(False) & (C.expires_at > bindparam("now"))

_OWNERS = {"serial": _BY_SERIAL, "user": _BY_USER}
_TOKENS = {
    key: Prepared(select(*_TOKEN_COLUMNS).where(owner).order_by(T.id))
    for key, owner in _OWNERS.items()
}
_OPEN_CHALLENGES = Prepared(
    select(*_CHALLENGE_COLUMNS)
    .where(C.serial.in_(bindparam("serials", expanding=True)), _OPEN)
    .order_by(C.id)
)
_OPEN_CHALLENGES_OF_ONE = Prepared(
    select(*_CHALLENGE_COLUMNS).where(C.serial == bindparam("serial"), _OPEN).order_by(C.id)
)
_TO_ANSWER = {
    key: Prepared(
        select(*_CHALLENGE_COLUMNS, *_TOKEN_COLUMNS)
        .join_from(CHALLENGE, TOKEN, T.serial == C.serial)
        .where(C.transaction_id == bindparam("transaction_id"), _OPEN, owner)
        .order_by(C.id)
    )
    for key, owner in _OWNERS.items()
}
# Parameters are named p_*: SQLAlchemy keeps column names for the VALUES and SET clauses.
_STALE = T.last_fail < bindparam("p_cleared_before")
_SERIALS = T.serial.in_(bindparam("p_serials", expanding=True))
# A guess is counted before it is checked, by the one statement that may refuse it: the
# database serialises these updates on the token row (SQLite's writer lock, PostgreSQL's
# row lock with the WHERE re-checked after a concurrent update), so of any number of
# concurrent guesses at most maxfail pass. A counter whose last failure is old starts over.
_RESERVE_VALUES = {
    "failcount": case((_STALE, 1), else_=T.failcount + 1),
    "last_fail": bindparam("p_now"),
}
_RESERVE_WHERE = (T.active.is_(True), (T.failcount < T.maxfail) | _STALE)
_RESERVE = {
    key: Prepared(
        update(TOKEN)
        .where(owner, *_RESERVE_WHERE)
        .values(_RESERVE_VALUES)
        .returning(*_TOKEN_COLUMNS)
    )
    for key, owner in _OWNERS.items()
}
_RESERVE_SERIALS = Prepared(
    update(TOKEN).where(_SERIALS, *_RESERVE_WHERE).values(_RESERVE_VALUES).returning(T.serial)
)
_RESERVE_SERIAL = Prepared(
    update(TOKEN).where(_BY_SERIAL, *_RESERVE_WHERE).values(_RESERVE_VALUES).returning(T.serial)
)
_GIVE_BACK_VALUES = {"failcount": T.failcount - 1}
_GIVE_BACK = Prepared(update(TOKEN).where(_SERIALS, T.failcount > 0).values(_GIVE_BACK_VALUES))
_GIVE_BACK_ONE = Prepared(
    update(TOKEN).where(_BY_SERIAL, T.failcount > 0).values(_GIVE_BACK_VALUES)
)
_SERIALS_OF = {
    key: Prepared(select(T.serial).where(owner).order_by(T.id)) for key, owner in _OWNERS.items()
}
_MARK_ANSWERED = Prepared(
    update(CHALLENGE)
    .where(C.id == bindparam("challenge_id"), C.answered.is_(False))
    .values(answered=True)
)
_AFTER_ACCEPT = Prepared(
    update(TOKEN)
    .where(_BY_SERIAL)
    .values(
        failcount=0,
        counter=case(
            (T.counter > bindparam("p_counter"), T.counter), else_=bindparam("p_counter") + 1
        ),
    )
)
_RESERVE_COUNTER = Prepared(
    update(TOKEN).where(_BY_SERIAL).values(counter=T.counter + 1).returning(T.counter)
)
_CLOSE_OPEN = Prepared(
    update(CHALLENGE)
    .where(C.serial == bindparam("p_serial"), C.answered.is_(False))
    .values(answered=True)
)
_ADD_CHALLENGE = Prepared(
    insert(CHALLENGE).returning(C.id),
    keys=["transaction_id", "serial", "counter", "created_at", "expires_at", "answered"],
)
_DROP_CHALLENGE = Prepared(delete(CHALLENGE).where(C.id == bindparam("challenge_id")))
_PURGE = delete(CHALLENGE).where(C.expires_at < bindparam("before"))


def _owner(serial: str | None, user: str | None, realm: str) -> tuple[str, dict[str, str]]:
    if serial:
        return "serial", {"p_serial": serial}
    return "user", {"p_user": user or "", "p_realm": realm}


def tokens(tx: Session, serial: str | None, user: str | None, realm: str) -> list[LoginToken]:
    """The tokens a login names: one by serial, or every token of user@realm."""
    owner, parameters = _owner(serial, user, realm)
    return [LoginToken(*row) for row in _TOKENS[owner](tx, parameters)]


def open_challenges(tx: Session, serials: Sequence[str], now: datetime) -> list[OpenChallenge]:
    if len(serials) == 1:
        rows = _OPEN_CHALLENGES_OF_ONE(tx, {"serial": serials[0], "now": now})
    else:
        rows = _OPEN_CHALLENGES(tx, {"serials": list(serials), "now": now})
    return [OpenChallenge(*row) for row in rows]


def challenges_to_answer(
    tx: Session,
    transaction_id: str,
    now: datetime,
    serial: str | None,
    user: str | None,
    realm: str,
) -> list[tuple[OpenChallenge, LoginToken]]:
    """The open challenges of a transaction, each with its token, among the login's tokens."""
    owner, parameters = _owner(serial, user, realm)
    rows = _TO_ANSWER[owner](tx, {"transaction_id": transaction_id, "now": now, **parameters})
    return [(OpenChallenge(*row[:3]), LoginToken(*row[3:])) for row in rows]


def reserve_attempts(
    tx: Session,
    serial: str | None,
    user: str | None,
    realm: str,
    now: datetime,
    cleared_before: datetime,
) -> list[LoginToken]:
    """Count a failure on each active, unlocked token the login names, before checking it.

    Returns those tokens (the only ones the guess may be checked against); a success gives
    its reservation back. A locked or disabled token is not returned and not counted.
    """
    owner, parameters = _owner(serial, user, realm)
    rows = _RESERVE[owner](tx, {**parameters, "p_now": now, "p_cleared_before": cleared_before})
    return sorted((LoginToken(*row) for row in rows), key=lambda t: t.serial)


def reserve_serials(
    tx: Session, serials: Sequence[str], now: datetime, cleared_before: datetime
) -> set[str]:
    """Like reserve_attempts, for tokens already known by serial."""
    if not serials:
        return set()
    parameters: dict[str, object] = {"p_now": now, "p_cleared_before": cleared_before}
    if len(serials) == 1:
        statement, parameters["p_serial"] = _RESERVE_SERIAL, serials[0]
    else:
        statement, parameters["p_serials"] = _RESERVE_SERIALS, list(serials)
    return set(statement(tx, parameters).scalars())


def give_back(tx: Session, serials: Sequence[str]) -> None:
    """Undo the reservations of attempts that turned out right."""
    if len(serials) == 1:
        _GIVE_BACK_ONE(tx, {"p_serial": serials[0]})
    elif serials:
        _GIVE_BACK(tx, {"p_serials": list(serials)})


def serials_of(tx: Session, serial: str | None, user: str | None, realm: str) -> list[str]:
    """Every token the login names, whatever its state (for the audit trail)."""
    owner, parameters = _owner(serial, user, realm)
    return _SERIALS_OF[owner](tx, parameters).scalars()


def answer(tx: Session, challenge_id: int, serial: str, counter: int) -> bool:
    """Mark the challenge answered, once: of concurrent right answers exactly one wins."""
    won = _MARK_ANSWERED(tx, {"challenge_id": challenge_id}).rowcount
    if won:
        _AFTER_ACCEPT(tx, {"p_serial": serial, "p_counter": counter})
    return bool(won)


def reserve_counter(tx: Session, serial: str) -> int:
    """Take the token's next HOTP counter value; concurrent challenges get distinct ones."""
    return int(_RESERVE_COUNTER(tx, {"p_serial": serial}).scalar_one()) - 1


def close_open_challenges(tx: Session, serial: str) -> None:
    """A new challenge makes the token's older ones unanswerable (no concurrent challenges)."""
    _CLOSE_OPEN(tx, {"p_serial": serial})


def add_challenge(
    tx: Session,
    *,
    transaction_id: str,
    serial: str,
    counter: int,
    created_at: datetime,
    expires_at: datetime,
) -> int:
    row = {
        "transaction_id": transaction_id,
        "serial": serial,
        "counter": counter,
        "created_at": created_at,
        "expires_at": expires_at,
        "answered": False,
    }
    return int(_ADD_CHALLENGE(tx, row).scalar_one())


def rehash_pin(tx: Session, serial: str, old: str, new: str) -> None:
    """The same PIN under today's hash parameters, unless it was changed meanwhile."""
    tx.execute(update(TOKEN).where(T.serial == serial, T.pin_hash == old).values(pin_hash=new))


def drop_challenge(tx: Session, challenge_id: int) -> None:
    _DROP_CHALLENGE(tx, {"challenge_id": challenge_id})


def purge_expired(tx: Session, before: datetime) -> None:
    tx.connection().execute(_PURGE, {"before": before})
