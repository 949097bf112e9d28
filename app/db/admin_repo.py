"""Admins and the failed-login counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.tables import Admin, LoginFailure, table, utcnow


def by_name(tx: Session, name: str) -> Admin | None:
    query = select(Admin).where(col(Admin.name) == name)
    return tx.execute(query).scalar_one_or_none()


def count(tx: Session) -> int:
    return int((tx.execute(select(func.count()).select_from(Admin))).scalar_one())


def add(tx: Session, name: str, password_hash: str) -> None:
    tx.add(Admin(name=name, password_hash=password_hash))


def set_password(tx: Session, name: str, password_hash: str) -> int:
    result = tx.execute(
        update(Admin).where(col(Admin.name) == name).values(password_hash=password_hash)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def lock_of(tx: Session, username: str) -> LoginFailure | None:
    return tx.get(LoginFailure, username)


def count_failure(tx: Session, username: str) -> int:
    """Add one failure atomically (concurrent workers each count) and return the total."""
    failures = table(LoginFailure)
    insert = pg_insert if tx.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(failures)
        .values(username=username, failures=1, last_failure=utcnow())
        .on_conflict_do_update(
            index_elements=["username"],
            set_={"failures": failures.c.failures + 1, "last_failure": utcnow()},
        )
        .returning(failures.c.failures)
    )
    return int(tx.execute(statement).scalar_one())


def lock(tx: Session, username: str, until: datetime) -> None:
    tx.execute(
        update(LoginFailure)
        .where(col(LoginFailure.username) == username)
        .values(failures=0, locked_until=until)
    )


def clear_failures(tx: Session, username: str) -> None:
    tx.execute(delete(LoginFailure).where(col(LoginFailure.username) == username))
