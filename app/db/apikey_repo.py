"""API keys. The per-request lookup is Core on the Connection, like the login path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, or_, select, update
from sqlalchemy.orm import Session

from app.db.tables import ApiKey, table

K = table(ApiKey).c


def add(tx: Session, key: ApiKey) -> None:
    tx.add(key)
    tx.flush()


def by_name(tx: Session, name: str) -> ApiKey | None:
    return tx.execute(select(ApiKey).where(K.name == name)).scalar_one_or_none()


def listing(tx: Session) -> Sequence[ApiKey]:
    return tx.execute(select(ApiKey).order_by(K.name)).scalars().all()


def delete_by_name(tx: Session, name: str) -> int:
    result = tx.execute(delete(ApiKey).where(K.name == name))
    return int(result.rowcount)  # type: ignore[attr-defined]


def find(tx: Session, *, key_hash: str, name: str | None) -> Row[Any, Any, Any, Any] | None:
    """The key row with this hash, or with this name (HTTP Basic names the key)."""
    columns = select(K.name, K.key_hash, K.actions, K.last_used_at)
    query = columns.where(K.key_hash == key_hash) if name is None else columns.where(K.name == name)
    return tx.connection().execute(query.limit(1)).first()


def touch(tx: Session, name: str, now: datetime, older_than: datetime) -> None:
    """Record a use, unless one was recorded since `older_than` (by any worker)."""
    tx.connection().execute(
        update(ApiKey)
        .where(K.name == name, or_(K.last_used_at.is_(None), K.last_used_at < older_than))
        .values(last_used_at=now)
    )
