"""Gateway rows and their options/headers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db.tables import Gateway, GatewayOption, table, utcnow


def by_name(tx: Session, name: str, *, lock: bool = False) -> Gateway | None:
    query = select(Gateway).where(col(Gateway.name) == name)
    if lock:
        query = query.with_for_update()
    return tx.execute(query).scalar_one_or_none()


def by_id(tx: Session, gateway_id: int) -> Gateway | None:
    return tx.get(Gateway, gateway_id)


def listing(tx: Session, gateway_id: int | None = None) -> Sequence[Gateway]:
    query = select(Gateway).order_by(col(Gateway.id))
    if gateway_id is not None:
        query = query.where(col(Gateway.id) == gateway_id)
    return tx.execute(query).scalars().all()


def options_of(tx: Session, gateway_ids: Iterable[int]) -> Sequence[GatewayOption]:
    ids = list(gateway_ids)
    if not ids:
        return []
    query = (
        select(GatewayOption)
        .where(col(GatewayOption.gateway_id).in_(ids))
        .order_by(col(GatewayOption.id))
    )
    return tx.execute(query).scalars().all()


def upsert(
    tx: Session,
    existing: Gateway | None,
    *,
    name: str,
    module: str,
    description: str,
    rows: list[GatewayOption],
) -> int:
    """Write the gateway and replace its whole option and header set."""
    if existing is None:
        gateway = Gateway(name=name, module=module, description=description)
        tx.add(gateway)
        tx.flush()
    else:
        gateway = existing
        gateway.module, gateway.description, gateway.updated_at = module, description, utcnow()
        tx.execute(delete(GatewayOption).where(col(GatewayOption.gateway_id) == gateway.id))
    assert gateway.id is not None
    for row in rows:
        row.gateway_id = gateway.id
        tx.add(row)
    tx.flush()
    return gateway.id


def delete_by_name(tx: Session, name: str) -> int:
    gateway = by_name(tx, name)
    if gateway is None:
        return 0
    tx.execute(delete(GatewayOption).where(col(GatewayOption.gateway_id) == gateway.id))
    tx.delete(gateway)
    return 1


def delete_option(tx: Session, gateway_id: int, kind: str, key: str) -> int:
    result = tx.execute(
        delete(GatewayOption).where(
            col(GatewayOption.gateway_id) == gateway_id,
            col(GatewayOption.kind) == kind,
            col(GatewayOption.key) == key,
        )
    )
    gateway = tx.get(Gateway, gateway_id)
    if gateway is not None and result.rowcount:  # type: ignore[attr-defined]
        gateway.updated_at = utcnow()
    return int(result.rowcount)  # type: ignore[attr-defined]


def set_dlr_token(tx: Session, name: str, token_hash: str) -> Gateway | None:
    """Store the hash of a gateway's delivery report token; its definition (and so its
    provider instance) stays as it is."""
    gateway = by_name(tx, name, lock=True)
    if gateway is not None:
        gateway.dlr_token = token_hash
        tx.add(gateway)
    return gateway


def versions(tx: Session) -> list[tuple[int, str, str, datetime]]:
    """Every gateway's id, name, module and last change: what the listeners compare."""
    gateways = table(Gateway).c
    rows = tx.connection().execute(
        select(gateways.id, gateways.name, gateways.module, gateways.updated_at)
    )
    return [(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]
