"""SMS gateway definitions: validate, store (secrets sealed), list (secrets censored)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy.orm import Session

from app.db import gateway_repo
from app.db.tables import Gateway, GatewayOption
from app.delivery import listeners
from app.errors import Conflict, NotFound, ParameterError
from app.runtime import Runtime
from app.schemas.smsgateway import GatewayIn, GatewayOut, OptionValue, ProviderInfo
from app.security.caller import Caller
from app.security.secret_box import CENSORED, SecretUnreadable
from app.services.audit import audited_write
from app.services.provider_pool import GatewayConfig
from providers.registry import OptionsInvalid, UnknownProvider, registry

# privacyIDEA's rule, kept even when other keys are flagged explicitly (its flaw: it
# dropped the rule once any flag was sent, and stored such secrets in clear).
_SECRET_NAME = re.compile("PASSWORD|SECRET", re.IGNORECASE)
# Options that say where a gateway sends (and so where its credentials go).
_DESTINATION = re.compile("URL|HOST|PORT|PROXY|SERVER", re.IGNORECASE)
# Headers that carry credentials by convention.
_CREDENTIAL_HEADER = re.compile("AUTH|TOKEN|API.?KEY|COOKIE|SESSION", re.IGNORECASE)
# user[:password]@ at the start of a URL, with or without its scheme
_USERINFO = re.compile(r"^\s*(?:[A-Za-z][A-Za-z0-9+.\-]*://)?[^/?#@\s]*@")


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
        if exc.not_found:
            raise NotFound(f"options of {module}: {exc}") from None
        raise ParameterError(f"ERR905: Invalid parameter: options of {module}: {exc}") from None


async def save(rt: Runtime, form: GatewayIn, caller: Caller) -> int:
    """Create or update a gateway by name; all of it is written or none of it."""
    module = canonical_module(form.module)
    provider = registry.resolve(module)
    if form.headers and not provider.headers_allowed:
        raise ParameterError(f"ERR905: Invalid parameter: headers: {module} takes no headers")
    model_secrets = registry.secret_keys(module)

    def write(tx: Session) -> int:
        if form.problems:  # what the document's body schema for this module refuses
            raise ParameterError(f"ERR905: Invalid parameter: {'; '.join(form.problems)}")
        existing = gateway_repo.by_name(tx, form.name, lock=True)
        stored: dict[tuple[str, str], GatewayOption] = {}
        if existing is not None and existing.id is not None:
            stored = {(r.kind, r.key): r for r in gateway_repo.options_of(tx, [existing.id])}
        rows: list[GatewayOption] = []
        option_values: dict[str, str] = {}
        kept: list[str] = []
        sections = (
            ("option", form.options, form.secret_options),
            ("header", form.headers, form.secret_headers),
        )
        for kind, values, flagged in sections:
            for key, raw in values.items():
                value = _as_text(raw)
                was_secret = False
                if value == CENSORED:
                    row = stored.get((kind, key))
                    value = _kept_value(rt, row, kind, key)
                    was_secret = row is not None and row.secret
                    kept.append(f"{kind}.{key}")
                if value == "":
                    continue  # an empty value clears the key
                secret = (
                    was_secret  # a kept value keeps its flag
                    or key in flagged
                    or bool(_SECRET_NAME.search(key))
                    or (kind == "option" and key in model_secrets)
                    or _carries_credentials(kind, key, value)
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
                    option_values[key] = value
        if kept and existing is not None:
            moved = _destination_changes(rt, existing, stored, option_values, module)
            if moved:
                raise Conflict(
                    f"ERR905: Invalid parameter: {', '.join(kept)}: {CENSORED} cannot keep a "
                    f"stored secret while {', '.join(moved)} changes; send the value again"
                )
        validate_options(module, option_values, rt)
        return gateway_repo.upsert(
            # The name the client used is stored and read back (privacyIDEA's web UI keys
            # its form by it); sending looks the provider up by its canonical name.
            tx,
            existing,
            name=form.name,
            module=form.module,
            description=form.description,
            rows=rows,
        )

    gateway_id = await audited_write(rt, caller, "smsgateway_write", form.name, write)
    rt.gateway_cache.clear(form.name)
    await listeners.refresh(rt)  # a gateway that now reports listens from now on
    return gateway_id


def _carries_credentials(kind: str, key: str, value: str) -> bool:
    """Credentials in a URL's or proxy's user:password@, or in an Authorization-like header."""
    if kind == "header":
        return bool(_CREDENTIAL_HEADER.search(key))
    return bool(_DESTINATION.search(key)) and bool(_USERINFO.match(value))


def _destination_changes(
    rt: Runtime,
    existing: Gateway,
    stored: dict[tuple[str, str], GatewayOption],
    options: dict[str, str],
    module: str,
) -> list[str]:
    """What of the gateway's destination (module, URL, host, port, proxy) a save changes:
    a kept secret must not follow a gateway to a server its owner did not choose."""
    changes = []
    try:
        same_module = registry.canonical(existing.module) == module
    except UnknownProvider:
        same_module = False
    if not same_module:
        changes.append("module")
    before = {
        key: _opened(rt, row, existing.name)
        for (kind, key), row in stored.items()
        if kind == "option" and _DESTINATION.search(key)
    }
    after = {key: value for key, value in options.items() if _DESTINATION.search(key)}
    keys = sorted(before.keys() | after.keys())
    changes += [f"option.{key}" for key in keys if before.get(key) != after.get(key)]
    return changes


def _opened(rt: Runtime, row: GatewayOption, gateway: str) -> str:
    if not row.secret:
        return row.value
    return rt.box.open(row.value, f"{row.kind}.{row.key} of SMS gateway {gateway[:100]!r}")


def _kept_value(rt: Runtime, row: GatewayOption | None, kind: str, key: str) -> str:
    """Posting the censored placeholder keeps what is stored. What there is to keep is the
    stored gateway's state, not the request's shape: a conflict (409), not a 400."""
    if row is None:
        raise Conflict(
            f"ERR905: Invalid parameter: {kind}.{key}: {CENSORED} given, "
            "but there is no stored value to keep"
        )
    try:
        return rt.box.open(row.value) if row.secret else row.value
    except SecretUnreadable:
        raise Conflict(
            f"ERR905: Invalid parameter: {kind}.{key}: {CENSORED} given, but no configured "
            "encryption key opens the stored value; send the value again"
        ) from None


async def listing(rt: Runtime, gateway_id: int | None = None) -> list[GatewayOut]:
    def read(tx: Session) -> tuple[Sequence[Gateway], Sequence[GatewayOption]]:
        gateways = gateway_repo.listing(tx, gateway_id)
        return gateways, gateway_repo.options_of(tx, [g.id for g in gateways if g.id is not None])

    gateways, rows = await rt.db.read(read)
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
    return await rt.gateway_cache.get(name, lambda: load_config(rt, name))


async def load_config(rt: Runtime, name: str) -> GatewayConfig:
    def read(tx: Session) -> tuple[Gateway | None, Sequence[GatewayOption]]:
        gateway = gateway_repo.by_name(tx, name)
        if gateway is None or gateway.id is None:
            return None, []
        return gateway, gateway_repo.options_of(tx, [gateway.id])

    gateway, rows = await rt.db.read(read)
    if gateway is None or gateway.id is None:
        raise NotFound(f"SMS gateway {name[:100]!r} does not exist")
    values: dict[str, dict[str, str]] = {"option": {}, "header": {}}
    for row in rows:
        values[row.kind][row.key] = _opened(rt, row, gateway.name)
    return GatewayConfig(
        id=gateway.id,
        name=gateway.name,
        module=gateway.module,
        options=values["option"],
        headers=values["header"],
        updated_at=gateway.updated_at,
        dlr_token=gateway.dlr_token,
    )


async def exists(rt: Runtime, name: str) -> bool:
    return await rt.db.read(lambda tx: gateway_repo.by_name(tx, name)) is not None


async def check_route(rt: Runtime, field: str, identifier: str) -> None:
    """A comma-separated list of gateway names, each of which exists: an empty name is a
    400, a name of no gateway a 404 (the value is well formed, what it names is missing)."""
    for name in (name.strip() for name in identifier.split(",")):
        if not name:
            raise ParameterError(
                f"ERR905: Invalid parameter: {field}: a gateway name in the list is empty"
            )
        if not await exists(rt, name):
            raise NotFound(f"{field}: there is no SMS gateway named {name[:100]!r}")


async def delete(rt: Runtime, name: str, caller: Caller) -> int:
    def remove(tx: Session) -> tuple[Gateway | None, int]:
        return gateway_repo.by_name(tx, name), gateway_repo.delete_by_name(tx, name)

    gateway, count = await audited_write(rt, caller, "smsgateway_delete", name, remove)
    rt.gateway_cache.clear(name)
    if gateway is not None and gateway.id is not None:
        rt.pool.forget(gateway.id)
    return count


async def delete_option(rt: Runtime, gateway_id: int, key: str, caller: Caller) -> int:
    kind, name = ("header", key[len("header.") :]) if key.startswith("header.") else ("option", key)
    name = name.removeprefix("option.") if kind == "option" else name

    def remove(tx: Session) -> tuple[Gateway, int]:
        gateway = gateway_repo.by_id(tx, gateway_id)
        if gateway is None:
            raise NotFound(f"SMS gateway with id {gateway_id} does not exist")
        count = gateway_repo.delete_option(tx, gateway_id, kind, name)
        # A definition the provider would refuse is not left behind (e.g. without its URL).
        remaining = {
            row.key: _opened(rt, row, gateway.name)
            for row in gateway_repo.options_of(tx, [gateway_id])
            if row.kind == "option"
        }
        validate_options(gateway.module, remaining, rt)
        return gateway, count

    target = f"{gateway_id}/{key}"
    gateway, count = await audited_write(rt, caller, "smsgateway_option_delete", target, remove)
    rt.gateway_cache.clear(gateway.name)
    await listeners.refresh(rt)
    return count


def providers() -> dict[str, ProviderInfo]:
    """Each provider under its canonical name and under privacyIDEA's class path, so
    privacyIDEA's web UI finds the form for the `providermodule` it reads back."""
    schema = registry.schema()
    listed = {name: ProviderInfo.model_validate(info) for name, info in schema.items()}
    for alias, name in registry.aliases().items():
        listed[alias] = listed[name]
    return dict(sorted(listed.items()))
