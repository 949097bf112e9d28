"""Delivery reports over HTTP: a per-gateway token (generated, shown once, stored hashed,
rotatable) and the callback that reads a report with the gateway's own field names."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from sqlalchemy.orm import Session

from app.db import gateway_repo
from app.delivery import receipts
from app.errors import BadCredentials, Conflict, NotFound, ParameterError
from app.runtime import Runtime
from app.schemas.dlr import DlrOut, DlrTokenOut
from app.security.caller import Caller
from app.services import gateways
from app.services.audit import audited_write
from providers.http import HttpProvider
from providers.http_reports import ReportUnreadable
from providers.registry import UnknownProvider, registry

WRONG_TOKEN = "Delivery report refused: wrong token for gateway {name!r}"


def token_hash(token: str) -> str:
    # The token is 256 random bits: a plain hash is as strong as a slow one here.
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate_token(rt: Runtime, name: str, caller: Caller) -> DlrTokenOut:
    """A new token for an HTTP gateway's delivery report URL; the old one stops working."""
    token = secrets.token_urlsafe(32)

    def write(tx: Session) -> None:
        gateway = gateway_repo.by_name(tx, name)
        if gateway is None:
            raise NotFound(f"SMS gateway {name[:100]!r} does not exist")
        try:
            http = issubclass(registry.resolve(gateway.module), HttpProvider)
        except UnknownProvider:
            http = False
        if not http:  # the name is fine; the gateway it names is of another kind
            raise Conflict(
                f"ERR905: Invalid parameter: name: gateway {name[:100]!r} is not an HTTP "
                "gateway; only HTTP gateways report over HTTP (SMPP reports on its session)"
            )
        gateway_repo.set_dlr_token(tx, name, token_hash(token))

    await audited_write(rt, caller, "dlrtoken_write", name, write)
    rt.gateway_cache.clear(name)
    return DlrTokenOut(gateway=name, token=token, path=f"/sms/dlr/{quote(name)}/{token}")


async def receive(rt: Runtime, name: str, token: str, data: Mapping[str, Any]) -> DlrOut:
    """Apply one report the gateway called back with; a 4xx naming the problem changes
    nothing."""
    try:
        config = await gateways.config_for_send(rt, name)
    except NotFound:
        # The same answer as a wrong token: the URL must not tell which gateways exist.
        receipts.rejected("", "bad_token")
        raise BadCredentials(WRONG_TOKEN.format(name=name[:100])) from None
    given = token_hash(token)
    if not config.dlr_token or not hmac.compare_digest(given, config.dlr_token):
        receipts.rejected(config.name, "bad_token")
        raise BadCredentials(WRONG_TOKEN.format(name=name[:100]))
    async with rt.pool.lease(config) as provider:
        if not isinstance(provider, HttpProvider):
            receipts.rejected(config.name, "not_http")
            raise ParameterError(
                f"ERR905: Invalid parameter: gateway: {name[:100]!r} is not an HTTP gateway"
            )
        try:
            receipt = provider.read_report(data)
        except ReportUnreadable as exc:
            receipts.rejected(config.name, "unreadable")
            raise ParameterError(f"ERR905: Invalid parameter: {exc.field}: {exc.message}") from None
    applied = await receipts.apply(rt, config.name, receipt)
    if applied.outcome == "unknown_id":
        receipts.rejected(config.name, "unknown_id")
        raise NotFound(
            f"No message sent through {name[:100]!r} has the id {receipt.provider_id[:100]!r}"
        )
    return DlrOut(
        gateway=config.name,
        provider_id=receipt.provider_id,
        state=receipt.state,
        outcome=applied.outcome,
    )
