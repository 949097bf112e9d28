"""System configuration rows (key -> value)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db.tables import ConfigEntry, table

K = table(ConfigEntry).c


def all_values(tx: Session) -> dict[str, str]:
    return {row.key: row.value for row in tx.execute(select(ConfigEntry)).scalars()}


def put(tx: Session, key: str, value: str) -> str:
    """Insert or update; returns privacyIDEA's word for which it was."""
    row = tx.get(ConfigEntry, key)
    if row is None:
        tx.add(ConfigEntry(key=key, value=value))
        return "insert"
    row.value = value
    return "update"


def remove(tx: Session, key: str) -> int:
    return int(tx.execute(delete(ConfigEntry).where(K.key == key)).rowcount)  # type: ignore[attr-defined]
