"""SMS gateway definitions: validate, store (secrets sealed), list (secrets censored)."""

from __future__ import annotations

import re
from collections import defaultdict

from app.db import gateway_repo
from app.db.tables import Gateway, GatewayOption
from app.errors import NotFound, ParameterError
from app.runtime import Runtime
from app.schemas.smsgateway import GatewayIn, GatewayOut, OptionValue, ProviderInfo
from app.security.secret_box import CENSORED
from app.services.audit import Caller, audited
from app.services.provider_pool import GatewayConfig
from providers.registry import OptionsInvalid, UnknownProvider, registry

# privacyIDEA's rule, kept even when other keys are flagged explicitly (its flaw: it
# dropped the rule once any flag was sent, and stored such secrets in clear).
_SECRET_NAME = re.compile("PASSWORD|SECRET", re.IGNORECASE)


def canonical_module(module: str) -> str:
    try:
        return registry.canonical(module)
    except UnknownProvider:
        raise ParameterError(
            f"ERR905: Invalid parameter: module: unknown provider {module[:100]!r}; "
            f"known: {', '.join(registry.names())}"
        ) from None


def _as_text(value: OptionValue) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def validate_options(module: str, options: dict[str, str], rt: Runtime) -> None:
    try:
        registry.validate(module, options, rt.provider_context)
    except OptionsInvalid as exc:
        raise ParameterError(f"ERR905: Invalid parameter: options of {module}: {exc}") from None


async def save(rt: Runtime, form: GatewayIn, caller: Caller) -> int:
    """Create or update a gateway by name; all of it is written or none of it."""
    module = canonical_module(form.module)
    provider = registry.resolve(module)
    if form.headers and not provider.headers_allowed:
        raise ParameterError(f"ERR905: Invalid parameter: headers: {module} takes no headers")
    model_secrets = registry.secret_keys(module)
    async with audited(rt.db, caller, "smsgateway_write", form.name) as tx:
        existing = await gateway_repo.by_name(tx, form.name, lock=True)
        stored = {}
        if existing is not None and existing.id is not None:
            stored = {(r.kind, r.key): r for r in await gateway_repo.options_of(tx, [existing.id])}
        rows: list[GatewayOption] = []
        plain_options: dict[str, str] = {}
        sections = (
            ("option", form.options, form.secret_options),
            ("header", form.headers, form.secret_headers),
        )
        for kind, values, flagged in sections:
            for key, raw in values.items():
                value = _as_text(raw)
                if value == CENSORED:
                    value = _kept_value(rt, stored.get((kind, key)), kind, key)
                if value == "":
                    continue  # an empty value clears the key
                secret = (
                    key in flagged
                    or bool(_SECRET_NAME.search(key))
                    or (kind == "option" and key in model_secrets)
                )
                rows.append(
                    GatewayOption(
                        gateway_id=0,  # set by the repository once the gateway has an id
                        kind=kind,
                        key=key,
                        value=rt.box.seal(value) if secret else value,
                        secret=secret,
                    )
                )
                if kind == "option":
                    plain_options[key] = value
        validate_options(module, plain_options, rt)
        gateway_id = await gateway_repo.upsert(
            tx, existing, name=form.name, module=module, description=form.description, rows=rows
        )
    rt.gateway_cache.clear(form.name)
    return gateway_id


def _kept_value(rt: Runtime, row: GatewayOption | None, kind: str, key: str) -> str:
    """Posting the censored placeholder keeps what is stored."""
    if row is None:
        raise ParameterError(
            f"ERR905: Invalid parameter: {kind}.{key}: {CENSORED} given, "
            "but there is no stored value to keep"
        )
    return rt.box.open(row.value) if row.secret else row.value


async def listing(rt: Runtime, gateway_id: int | None = None) -> list[GatewayOut]:
    async with rt.db.reading() as tx:
        gateways = await gateway_repo.listing(tx, gateway_id)
        rows = await gateway_repo.options_of(tx, [g.id for g in gateways if g.id is not None])
    by_gateway: dict[int, list[GatewayOption]] = defaultdict(list)
    for row in rows:
        by_gateway[row.gateway_id].append(row)
    return [_out(g, by_gateway[g.id or 0]) for g in gateways]


def _out(gateway: Gateway, rows: list[GatewayOption]) -> GatewayOut:
    sections: dict[str, dict[str, str]] = {"option": {}, "header": {}}
    secrets: dict[str, list[str]] = {"option": [], "header": []}
    for row in rows:
        sections[row.kind][row.key] = CENSORED if row.secret else row.value
        if row.secret:
            secrets[row.kind].append(row.key)
    return GatewayOut(
        id=gateway.id or 0,
        name=gateway.name,
        description=gateway.description,
        providermodule=gateway.module,
        options=sections["option"],
        headers=sections["header"],
        secret_options=secrets["option"],
        secret_headers=secrets["header"],
    )


async def config_for_send(rt: Runtime, name: str) -> GatewayConfig:
    """The named gateway with its secrets opened; NotFound if there is none."""
    return await rt.gateway_cache.get(name, lambda: _load_config(rt, name))


async def _load_config(rt: Runtime, name: str) -> GatewayConfig:
    async with rt.db.reading() as tx:
        gateway = await gateway_repo.by_name(tx, name)
        if gateway is None or gateway.id is None:
            raise NotFound(f"SMS gateway {name[:100]!r} does not exist")
        rows = await gateway_repo.options_of(tx, [gateway.id])
    values: dict[str, dict[str, str]] = {"option": {}, "header": {}}
    for row in rows:
        values[row.kind][row.key] = rt.box.open(row.value) if row.secret else row.value
    return GatewayConfig(
        id=gateway.id,
        name=gateway.name,
        module=gateway.module,
        options=values["option"],
        headers=values["header"],
        updated_at=gateway.updated_at,
    )


async def exists(rt: Runtime, name: str) -> bool:
    async with rt.db.reading() as tx:
        return await gateway_repo.by_name(tx, name) is not None


async def check_route(rt: Runtime, field: str, identifier: str) -> None:
    """A comma-separated list of gateway names, each of which exists; else a 400 naming it."""
    names = [name.strip() for name in identifier.split(",")]
    for name in names:
        if not name or not await exists(rt, name):
            raise ParameterError(
                f"ERR905: Invalid parameter: {field}: there is no SMS gateway named {name[:100]!r}"
            )


async def delete(rt: Runtime, name: str, caller: Caller) -> int:
    async with audited(rt.db, caller, "smsgateway_delete", name) as tx:
        gateway = await gateway_repo.by_name(tx, name)
        count = await gateway_repo.delete_by_name(tx, name)
    rt.gateway_cache.clear(name)
    if gateway is not None and gateway.id is not None:
        rt.pool.forget(gateway.id)
    return count


async def delete_option(rt: Runtime, gateway_id: int, key: str, caller: Caller) -> int:
    kind, name = ("header", key[len("header.") :]) if key.startswith("header.") else ("option", key)
    name = name.removeprefix("option.") if kind == "option" else name
    async with audited(rt.db, caller, "smsgateway_option_delete", f"{gateway_id}/{key}") as tx:
        gateway = await gateway_repo.by_id(tx, gateway_id)
        if gateway is None:
            raise NotFound(f"SMS gateway with id {gateway_id} does not exist")
        count = await gateway_repo.delete_option(tx, gateway_id, kind, name)
        # A definition the provider would refuse is not left behind (e.g. without its URL).
        remaining = {
            row.key: rt.box.open(row.value) if row.secret else row.value
            for row in await gateway_repo.options_of(tx, [gateway_id])
            if row.kind == "option"
        }
        validate_options(gateway.module, remaining, rt)
    rt.gateway_cache.clear(gateway.name)
    return count


def providers() -> dict[str, ProviderInfo]:
    return {name: ProviderInfo.model_validate(info) for name, info in registry.schema().items()}
