"""System configuration for SMS tokens (privacyIDEA's sms.* keys)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db import config_repo
from app.errors import NotFound, ParameterError
from app.runtime import Runtime
from app.schemas.system import KNOWN_KEYS, SetConfigIn
from app.security.caller import Caller
from app.services import gateways
from app.services.audit import audited_write

DEFAULT_TIMEOUT = 300
DEFAULT_TEXT = "<otp>"


@dataclass(frozen=True)
class SmsConfig:
    identifier: str
    provider_timeout: int
    text: str
    concurrent_challenges: bool


async def values(rt: Runtime) -> dict[str, str]:
    return dict(await rt.config_cache.get("system", lambda: rt.db.read(config_repo.all_values)))


async def sms(rt: Runtime) -> SmsConfig:
    """The sms.* settings with their defaults, as a challenge needs them."""
    config = await values(rt)
    return SmsConfig(
        identifier=config.get("sms.identifier", ""),
        provider_timeout=int(config.get("sms.providerTimeout", DEFAULT_TIMEOUT)),
        text=config.get("sms.text", DEFAULT_TEXT),
        concurrent_challenges=config.get("sms.concurrent_challenges", "False") == "True",
    )


async def set_values(rt: Runtime, form: SetConfigIn, caller: Caller) -> dict[str, str]:
    given = form.model_dump(by_alias=True, exclude_none=True)
    if not given:
        raise ParameterError(
            f"ERR905: Missing parameter: give at least one of {', '.join(KNOWN_KEYS)}"
        )
    if "sms.identifier" in given:
        await gateways.check_route(rt, "sms.identifier", given["sms.identifier"])
    text = {key: str(value) for key, value in given.items()}
    result = await audited_write(
        rt,
        caller,
        "system_write",
        ", ".join(text),
        lambda tx: {key: config_repo.put(tx, key, value) for key, value in text.items()},
    )
    rt.config_cache.clear()
    return result


async def delete(rt: Runtime, key: str, caller: Caller) -> bool:
    if key not in KNOWN_KEYS:
        raise ParameterError(
            f"ERR905: Invalid parameter: key: {key[:100]!r} is not one of {', '.join(KNOWN_KEYS)}"
        )

    def remove(tx: Session) -> None:
        if not config_repo.remove(tx, key):
            raise NotFound(f"The configuration key {key!r} is not set")

    await audited_write(rt, caller, "system_delete", key, remove)
    rt.config_cache.clear()
    return True
