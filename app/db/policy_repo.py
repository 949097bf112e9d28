"""Admin policies."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.tables import Policy


async def active_admin_policies(tx: AsyncSession) -> Sequence[Policy]:
    query = select(Policy).where(Policy.scope == "admin", Policy.active.is_(True))  # type: ignore[arg-type, attr-defined]
    return (await tx.execute(query)).scalars().all()


async def listing(tx: AsyncSession, name: str | None = None) -> Sequence[Policy]:
    query = select(Policy).order_by(Policy.name)
    if name is not None:
        query = query.where(Policy.name == name)  # type: ignore[arg-type]
    return (await tx.execute(query)).scalars().all()


async def by_name(tx: AsyncSession, name: str) -> Policy | None:
    query = select(Policy).where(Policy.name == name)  # type: ignore[arg-type]
    return (await tx.execute(query)).scalar_one_or_none()


async def upsert(tx: AsyncSession, policy: Policy) -> int:
    existing = await by_name(tx, policy.name)
    if existing is None:
        tx.add(policy)
        await tx.flush()
        assert policy.id is not None
        return policy.id
    for field in ("scope", "action", "adminuser", "realm", "user", "active", "priority"):
        setattr(existing, field, getattr(policy, field))
    await tx.flush()
    assert existing.id is not None
    return existing.id


async def delete(tx: AsyncSession, policy: Policy) -> None:
    await tx.delete(policy)
