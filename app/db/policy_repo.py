"""Admin policies."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.tables import Policy


def active_admin_policies(tx: Session) -> Sequence[Policy]:
    query = select(Policy).where(col(Policy.scope) == "admin", col(Policy.active).is_(True))
    return tx.execute(query).scalars().all()


def listing(tx: Session, name: str | None = None) -> Sequence[Policy]:
    query = select(Policy).order_by(Policy.name)
    if name is not None:
        query = query.where(col(Policy.name) == name)
    return tx.execute(query).scalars().all()


def by_name(tx: Session, name: str) -> Policy | None:
    query = select(Policy).where(col(Policy.name) == name)
    return tx.execute(query).scalar_one_or_none()


def upsert(tx: Session, policy: Policy) -> int:
    existing = by_name(tx, policy.name)
    if existing is None:
        tx.add(policy)
        tx.flush()
        assert policy.id is not None
        return policy.id
    fields = ("scope", "action", "adminuser", "realm", "user", "active", "priority", "description")
    for field in fields:
        setattr(existing, field, getattr(policy, field))
    tx.flush()
    assert existing.id is not None
    return existing.id


def delete(tx: Session, policy: Policy) -> None:
    tx.delete(policy)
