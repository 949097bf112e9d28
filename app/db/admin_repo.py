"""Admins and the failed-login counters."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Admin, LoginFailure


async def by_name(tx: AsyncSession, name: str) -> Admin | None:
    query = select(Admin).where(Admin.name == name)  # type: ignore[arg-type]
    return (await tx.execute(query)).scalar_one_or_none()


async def count(tx: AsyncSession) -> int:
    return int((await tx.execute(select(func.count()).select_from(Admin))).scalar_one())


async def add(tx: AsyncSession, name: str, password_hash: str) -> None:
    tx.add(Admin(name=name, password_hash=password_hash))


async def set_password(tx: AsyncSession, name: str, password_hash: str) -> int:
    """A new password; the token generation moves on, so earlier tokens stop working."""
    generation = Admin.__table__.c.token_generation  # type: ignore[attr-defined]
    result = await tx.execute(
        update(Admin)
        .where(Admin.name == name)  # type: ignore[arg-type]
        .values(password_hash=password_hash, token_generation=generation + 1)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def generation_of(tx: AsyncSession, name: str) -> int | None:
    """The admin's token generation, None if there is no such admin."""
    table = Admin.__table__.c  # type: ignore[attr-defined]
    query = select(table.token_generation).where(table.name == name)
    value = (await tx.execute(query)).scalar_one_or_none()
    return None if value is None else int(value)


async def lock_all(tx: AsyncSession) -> int:
    """Lock every admin row until the commit (a read that decides a delete); how many."""
    table = Admin.__table__.c  # type: ignore[attr-defined]
    return len((await tx.execute(select(table.id).with_for_update())).all())


async def delete_admin(tx: AsyncSession, name: str) -> int:
    result = await tx.execute(delete(Admin).where(Admin.name == name))  # type: ignore[arg-type]
    return int(result.rowcount)  # type: ignore[attr-defined]


async def lock_of(tx: AsyncSession, username: str) -> LoginFailure | None:
    return await tx.get(LoginFailure, username)


async def reserve_attempt(
    tx: AsyncSession, username: str, now: datetime, *, limit: int, window: timedelta
) -> bool:
    """Count a failed login before the password is checked, unless the name is locked out.

    One statement decides, so of any number of concurrent attempts at most `limit` pass
    within `window` (PostgreSQL re-checks the WHERE after a concurrent update of the row,
    SQLite has one writer); a success clears them. Failures older than the window no
    longer count, and the limit-th failure locks the name until it has passed.
    """
    table = LoginFailure.__table__  # type: ignore[attr-defined]
    c = table.c
    insert = pg_insert if tx.get_bind().dialect.name == "postgresql" else sqlite_insert
    stale = c.last_failure < now - window
    failures = case((stale, 1), else_=c.failures + 1)
    until = now + window
    statement = (
        insert(table)
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
    return (await tx.execute(statement)).scalar_one_or_none() is not None


async def clear_failures(tx: AsyncSession, username: str) -> None:
    await tx.execute(delete(LoginFailure).where(LoginFailure.username == username))  # type: ignore[arg-type]
