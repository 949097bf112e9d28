"""Admins and the failed-login counters."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.tables import Admin, LoginFailure, table


def by_name(tx: Session, name: str) -> Admin | None:
    query = select(Admin).where(col(Admin.name) == name)
    return tx.execute(query).scalar_one_or_none()


def count(tx: Session) -> int:
    return int((tx.execute(select(func.count()).select_from(Admin))).scalar_one())


def add(tx: Session, name: str, password_hash: str) -> None:
    tx.add(Admin(name=name, password_hash=password_hash))


def set_password(tx: Session, name: str, password_hash: str) -> int:
    """A new password; the token generation moves on, so earlier tokens stop working."""
    generation = table(Admin).c.token_generation
    result = tx.execute(
        update(Admin)
        .where(col(Admin.name) == name)
        .values(password_hash=password_hash, token_generation=generation + 1)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def rehash(tx: Session, name: str, old: str, new: str) -> None:
    """The same password under today's hash parameters: no token is revoked, and a password
    changed meanwhile is kept."""
    tx.execute(
        update(Admin)
        .where(col(Admin.name) == name, col(Admin.password_hash) == old)
        .values(password_hash=new)
    )


def generation_of(tx: Session, name: str) -> int | None:
    """The admin's token generation, None if there is no such admin."""
    c = table(Admin).c
    value = tx.execute(select(c.token_generation).where(c.name == name)).scalar_one_or_none()
    return None if value is None else int(value)


def lock_all(tx: Session) -> int:
    """Lock every admin row until the commit (a read that decides a delete); how many."""
    return len(tx.execute(select(table(Admin).c.id).with_for_update()).all())


def delete_admin(tx: Session, name: str) -> int:
    result = tx.execute(delete(Admin).where(col(Admin.name) == name))
    return int(result.rowcount)  # type: ignore[attr-defined]


def lock_of(tx: Session, username: str) -> LoginFailure | None:
    return tx.get(LoginFailure, username)


def reserve_attempt(
    tx: Session, username: str, now: datetime, *, limit: int, window: timedelta
) -> bool:
    """Count a failed login before the password is checked, unless the name is locked out.

    One statement decides, so of any number of concurrent attempts at most `limit` pass
    within `window` (PostgreSQL re-checks the WHERE after a concurrent update of the row,
    SQLite has one writer); a success clears them. Failures older than the window no
    longer count, and the limit-th failure locks the name until it has passed.
    """
    failures_table = table(LoginFailure)
    c = failures_table.c
    insert = pg_insert if tx.get_bind().dialect.name == "postgresql" else sqlite_insert
    stale = c.last_failure < now - window
    failures = case((stale, 1), else_=c.failures + 1)
    until = now + window
    statement = (
        insert(failures_table)
        .values(
            username=username,
            failures=1,
            last_failure=now,
            locked_until=until if limit <= 1 else None,
        )
        .on_conflict_do_update(
            index_elements=["username"],
            set_={
                "failures": failures,
                "last_failure": now,
                "locked_until": case((failures >= limit, until), else_=None),
            },
            where=(c.failures < limit) | stale,
        )
        .returning(c.failures)
    )
    return tx.execute(statement).scalar_one_or_none() is not None


def clear_failures(tx: Session, username: str) -> None:
    tx.execute(delete(LoginFailure).where(col(LoginFailure.username) == username))
