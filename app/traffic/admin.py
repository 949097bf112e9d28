"""What admins do with traffic control: rules, Geo permissions, the safe list, settings,
counters and blocks, gateway limits. Every write is audited; bad input never gets here
(the models refuse it with a 400 naming the field)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, delete, select

from app.db.tables import Gateway, table
from app.errors import NotFound, ParameterError
from app.security.caller import Caller
from app.services.audit import audited_write
from app.traffic import gateway_limits, repo
from app.traffic.gateway_limits import LimitsIn, LimitsOut, default_limits
from app.traffic.numbers import is_country
from app.traffic.settings import (
    DEFAULT_NAMES,
    HIGH_RISK_PRESET,
    RULE_NAME,
    SAFE_ENTRY,
    CountryIn,
    Permission,
    RuleIn,
    RuleOut,
    SafeIn,
    TrafficSettingsIn,
    merged_rules,
)

if TYPE_CHECKING:
    from app.runtime import Runtime

GATEWAY = table(Gateway)
T = TypeVar("T")


class CounterOut(BaseModel):
    rule: str
    subject: str
    hits: int
    answered: int
    started_at: float = Field(description="Seconds since the epoch")
    expires_at: float
    blocked_until: float | None
    strikes: int


class PresetIn(BaseModel):
    """The permission the preset's countries get."""

    model_config = ConfigDict(extra="forbid")

    permission: Permission = "monitor"


async def _write(
    rt: Runtime, caller: Caller, action: str, target: str, work: Callable[[Connection], T]
) -> T:
    """One write transaction with its audit row; a refusal is audited after it."""
    result = await audited_write(rt, caller, action, target, lambda tx: work(tx.connection()))
    rt.traffic.changed()
    return result


async def _read(rt: Runtime, work: Callable[[Connection], T]) -> T:
    return await rt.db.read(lambda tx: work(tx.connection()))


async def rules(rt: Runtime) -> list[RuleOut]:
    stored = await _read(rt, lambda tx: repo.load_policy(tx)[0])
    return merged_rules(stored)


async def save_rule(rt: Runtime, rule: RuleIn, caller: Caller) -> str:
    await _write(
        rt, caller, "traffic_write", f"rule {rule.name}", lambda tx: repo.save_rule(tx, rule)
    )
    return rule.name


def _rule_name(name: str) -> str:
    if not re.fullmatch(RULE_NAME, name):
        raise ParameterError(f"ERR905: Invalid parameter: name: {name[:64]!r} is not a rule name")
    return name


async def delete_rule(rt: Runtime, name: str, caller: Caller) -> int:
    """Delete a rule; a built-in one returns to its default."""
    _rule_name(name)

    def work(tx: Connection) -> int:
        deleted = repo.delete_rule(tx, name)
        if not deleted and name not in DEFAULT_NAMES:
            raise NotFound(f"The traffic rule {name!r} does not exist")
        return deleted

    return await _write(rt, caller, "traffic_write", f"rule {name}", work)


async def countries(rt: Runtime) -> list[CountryIn]:
    policy = await _read(rt, lambda tx: repo.load_policy(tx)[1])
    return sorted(policy.countries.values(), key=lambda c: c.code)


async def save_country(rt: Runtime, country: CountryIn, caller: Caller) -> str:
    await _write(rt, caller, "traffic_write", f"country {country.code}",
                 lambda tx: repo.save_country(tx, country))  # fmt: skip
    return country.code


async def apply_preset(rt: Runtime, form: PresetIn, caller: Caller) -> int:
    """Give every country of the preset the permission (monitor by default)."""
    entries = [CountryIn(code=code, permission=form.permission) for code in HIGH_RISK_PRESET]

    def work(tx: Connection) -> int:
        for entry in entries:
            repo.save_country(tx, entry)
        return len(entries)

    return await _write(rt, caller, "traffic_write", "preset high_risk", work)


async def delete_country(rt: Runtime, code: str, caller: Caller) -> int:
    if not is_country(code.upper()):
        raise ParameterError(f"ERR905: Invalid parameter: code: {code!r} is not a country code")
    code = code.upper()
    return await _write(rt, caller, "traffic_write", f"country {code}",
                        lambda tx: repo.delete_country(tx, code))  # fmt: skip


async def safe_list(rt: Runtime) -> list[SafeIn]:
    return await _read(rt, repo.safe_list)


async def save_safe(rt: Runtime, entry: SafeIn, caller: Caller) -> str:
    await _write(
        rt, caller, "traffic_write", f"safe {entry.entry}", lambda tx: repo.save_safe(tx, entry)
    )
    return entry.entry


async def delete_safe(rt: Runtime, entry: str, caller: Caller) -> int:
    if not SAFE_ENTRY.fullmatch(entry):
        raise ParameterError(f"ERR905: Invalid parameter: entry: {entry[:20]!r} is malformed")
    return await _write(
        rt, caller, "traffic_write", f"safe {entry}", lambda tx: repo.delete_safe(tx, entry)
    )


async def settings(rt: Runtime) -> TrafficSettingsIn:
    return await _read(rt, lambda tx: repo.load_policy(tx)[1].settings)


async def save_settings(rt: Runtime, form: TrafficSettingsIn, caller: Caller) -> TrafficSettingsIn:
    await _write(rt, caller, "traffic_write", "settings", lambda tx: repo.save_settings(tx, form))
    return form


def _counter(row: object) -> CounterOut:
    return CounterOut.model_validate(row, from_attributes=True)


async def counters(
    rt: Runtime, rule: str | None, subject: str | None, limit: int
) -> list[CounterOut]:
    now = rt.traffic.clock()
    rows = await _read(rt, lambda tx: repo.counters(tx, now, rule, subject, limit))
    return [_counter(r) for r in rows]


async def blocks(rt: Runtime) -> list[CounterOut]:
    now = rt.traffic.clock()
    return [_counter(r) for r in await _read(rt, lambda tx: repo.blocks(tx, now))]


async def lift(rt: Runtime, rule: str, subject: str, caller: Caller) -> int:
    now = rt.traffic.clock()

    def work(tx: Connection) -> int:
        if not repo.lift(tx, rule, subject, now):
            raise NotFound(f"No active block of {rule!r} on {subject[:40]!r}")
        return 1

    return await _write(rt, caller, "traffic_write", f"lift {rule} {subject}", work)


# Gateway limits


def _gateway_module(tx: Connection, name: str) -> str:
    module = tx.execute(select(GATEWAY.c.module).where(GATEWAY.c.name == name)).scalar()
    if module is None:
        raise NotFound(f"SMS gateway {name[:100]!r} does not exist")
    return str(module)


def _limits_out(tx: Connection, name: str, module: str, now: float) -> LimitsOut:
    row = tx.execute(select(repo.LIMIT).where(repo.LIMIT.c.gateway == name)).first()
    if row is None:
        defaults = default_limits(module)
        return LimitsOut(gateway=name, default=True, max_concurrency=defaults.max_concurrency)
    sent = row.day_count if row.day == int(now // gateway_limits.DAY) else 0
    return LimitsOut(
        gateway=name, default=False, max_concurrency=row.max_concurrency, rate=row.rate,
        burst=row.burst, daily_cap=row.daily_cap, sent_today=sent,
    )  # fmt: skip


async def gateway_limits_list(rt: Runtime, gateway: str | None = None) -> list[LimitsOut]:
    """Every gateway's limits; with `gateway`, that one's (a 404 if there is none)."""
    now = rt.traffic.clock()

    def read(tx: Connection) -> list[LimitsOut]:
        if gateway is not None:
            return [_limits_out(tx, gateway, _gateway_module(tx, gateway), now)]
        gateways = tx.execute(select(GATEWAY.c.name, GATEWAY.c.module).order_by(GATEWAY.c.name))
        return [_limits_out(tx, name, module, now) for name, module in gateways]

    return await _read(rt, read)


async def save_gateway_limits(rt: Runtime, name: str, form: LimitsIn, caller: Caller) -> LimitsOut:
    now = rt.traffic.clock()

    def work(tx: Connection) -> LimitsOut:
        module = _gateway_module(tx, name)
        gateway_limits.save(tx, name, form)
        return _limits_out(tx, name, module, now)

    return await _write(rt, caller, "gatewaylimit_write", name, work)


async def reset_gateway_limits(rt: Runtime, name: str, caller: Caller) -> int:
    """Back to the defaults (unlimited; a modem one at a time)."""

    def work(tx: Connection) -> int:
        _gateway_module(tx, name)
        statement = delete(repo.LIMIT).where(repo.LIMIT.c.gateway == name)
        return int(tx.execute(statement).rowcount)

    return await _write(rt, caller, "gatewaylimit_write", name, work)
