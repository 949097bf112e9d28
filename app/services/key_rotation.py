"""`smsgw keys rotate`: every sealed value re-encrypted under the newest key, together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db import sealed_repo
from app.runtime import Runtime
from app.security.caller import Caller
from app.services.audit import audited_write


@dataclass(frozen=True)
class Rotated:
    secrets: int
    seeds: int


async def rotate(rt: Runtime, caller: Caller) -> Rotated:
    """Re-seal gateway secrets and token seeds in one transaction: a value that no
    configured key opens fails it all (SecretUnreadable naming the gateway or token), so
    the older keys can be dropped only once every value is under the newest."""

    def reseal(tx: Session) -> Rotated:
        secrets = sealed_repo.gateway_secrets(tx)
        for option_id, gateway, kind, key, sealed in secrets:
            what = f"{kind}.{key} of SMS gateway {gateway[:100]!r}"
            sealed_repo.set_gateway_secret(tx, option_id, rt.box.rotate(sealed, what))
        seeds = sealed_repo.token_seeds(tx)
        for token_id, serial, sealed in seeds:
            what = f"the seed of token {serial}"
            sealed_repo.set_token_seed(tx, token_id, rt.box.rotate(sealed, what))
        return Rotated(secrets=len(secrets), seeds=len(seeds))

    rotated = await audited_write(rt, caller, "keys_rotate", "encryption key", reseal)
    rt.gateway_cache.clear()
    return rotated
