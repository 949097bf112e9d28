"""Every value sealed with the secret box: gateway secrets and token seeds (key rotation)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.tables import Gateway, GatewayOption, Token, table

G = table(Gateway).c
O = table(GatewayOption).c  # noqa: E741
T = table(Token).c


def gateway_secrets(tx: Session) -> Sequence[tuple[int, str, str, str, str]]:
    """(option id, gateway name, kind, key, sealed value), locked until the commit."""
    query = (
        select(O.id, G.name, O.kind, O.key, O.value)
        .join(table(Gateway), G.id == O.gateway_id)
        .where(O.secret.is_(True))
        .order_by(O.id)
        .with_for_update()
    )
    return [tuple(row) for row in tx.execute(query)]


def set_gateway_secret(tx: Session, option_id: int, sealed: str) -> None:
    tx.execute(update(GatewayOption).where(O.id == option_id).values(value=sealed))


def token_seeds(tx: Session) -> Sequence[tuple[int, str, str]]:
    """(token id, serial, sealed seed), locked until the commit."""
    query = select(T.id, T.serial, T.otpkey).order_by(T.id).with_for_update()
    return [tuple(row) for row in tx.execute(query)]


def set_token_seed(tx: Session, token_id: int, sealed: str) -> None:
    tx.execute(update(Token).where(T.id == token_id).values(otpkey=sealed))
