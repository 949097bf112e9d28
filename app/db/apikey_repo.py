"""API keys. The per-request lookup is Core on a Connection, like the login path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import ApiKey

K = ApiKey.__table__.c  # type: ignore[attr-defined]


async def add(tx: AsyncSession, key: ApiKey) -> None:
    tx.add(key)
    await tx.flush()


async def by_name(tx: AsyncSession, name: str) -> ApiKey | None:
    return (await tx.execute(select(ApiKey).where(K.name == name))).scalar_one_or_none()


async def listing(tx: AsyncSession) -> Sequence[ApiKey]:
    return (await tx.execute(select(ApiKey).order_by(K.name))).scalars().all()


async def delete_by_name(tx: AsyncSession, name: str) -> int:
    result = await tx.execute(delete(ApiKey).where(K.name == name))
    return int(result.rowcount)  # type: ignore[attr-defined]


def find(tx: Connection, *, key_hash: str, name: str | None) -> Row[tuple[object, ...]] | None:
    """The key row with this hash, or with this name (HTTP Basic names the key)."""
    columns = select(K.name, K.key_hash, K.actions, K.last_used_at)
    query = columns.where(K.key_hash == key_hash) if name is None else columns.where(K.name == name)
    return tx.execute(query.limit(1)).first()


def touch(tx: Connection, name: str, now: datetime, older_than: datetime) -> None:
    """Record a use, unless one was recorded since `older_than` (by any worker)."""
    tx.execute(
        update(ApiKey)
        .where(K.name == name, or_(K.last_used_at.is_(None), K.last_used_at < older_than))
        .values(last_used_at=now)
    )
