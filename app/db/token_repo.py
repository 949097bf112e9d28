"""Tokens as the admin API manages them. Plain functions on a Session: callers run them
through Database.write / Database.read, one thread hop per transaction on SQLite. A login's
queries are in login_repo."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, select, true, update
from sqlalchemy.orm import Session

from app.db.tables import Challenge, Token, table

# SQLModel columns are typed as plain attributes; SQLAlchemy sees them as columns.
T = table(Token).c
C = table(Challenge).c


def add(tx: Session, token: Token) -> None:
    tx.add(token)
    tx.flush()


def serial_taken(tx: Session, serial: str) -> bool:
    return tx.execute(select(T.id).where(T.serial == serial)).first() is not None


def by_serial(tx: Session, serial: str) -> Token | None:
    return tx.execute(select(Token).where(T.serial == serial)).scalar_one_or_none()


def owner_of(tx: Session, serial: str) -> tuple[str, str] | None:
    """(user, realm) of the token, None if there is none with this serial."""
    row = tx.execute(select(T.username, T.realm).where(T.serial == serial)).first()
    return None if row is None else (str(row.username), str(row.realm))


def in_scope(rules: Sequence[tuple[frozenset[str], frozenset[str]]] | None) -> ColumnElement[bool]:
    """Tokens some (realms, users) rule covers (an empty set covers every one); None: all."""
    if rules is None:
        return true()
    clauses = [
        and_(
            T.realm.in_(sorted(realms)) if realms else true(),
            T.username.in_(sorted(users)) if users else true(),
        )
        for realms, users in rules
    ]
    return or_(*clauses) if clauses else false()


def of_user(tx: Session, username: str, realm: str) -> Sequence[Token]:
    query = select(Token).where(T.username == username, T.realm == realm).order_by(T.id)
    return tx.execute(query).scalars().all()


def page(
    tx: Session,
    *,
    serial: str | None,
    user: str | None,
    realm: str | None,
    offset: int,
    limit: int,
    scope: Sequence[tuple[frozenset[str], frozenset[str]]] | None = None,
) -> tuple[int, Sequence[Token]]:
    query = select(Token).where(in_scope(scope))
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
