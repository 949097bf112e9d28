"""The SQL of traffic control, on Core Connections like the login's own queries.

The hot path is `count`: one INSERT ... ON CONFLICT DO UPDATE ... RETURNING that moves
every counter a challenge touches, whatever the number of rules. Statements are built
once per row count and compiled once per dialect, and run on the driver's cursor
(app/db/prepared.py), so a call only binds parameters.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from app.db.prepared import Prepared
from app.db.tables import (
    GatewayLimit,
    TrafficCounter,
    TrafficCountry,
    TrafficRule,
    TrafficSafe,
    TrafficSetting,
    table,
)
from app.traffic.settings import CountryIn, Policy, RuleIn, SafeIn, TrafficSettingsIn

COUNTER = table(TrafficCounter)
RULE = table(TrafficRule)
COUNTRY = table(TrafficCountry)
SAFE = table(TrafficSafe)
SETTING = table(TrafficSetting)
LIMIT = table(GatewayLimit)
K = COUNTER.c
SETTINGS_KEY = "settings"


@dataclass(frozen=True, slots=True)
class Bump:
    """One counter to move: rule and subject name it; a new window ends at `expires_at`."""

    rule: str
    subject: str
    expires_at: float
    ref: str = ""


@dataclass(frozen=True, slots=True)
class Count:
    rule: str
    subject: str
    hits: int
    answered: int
    ref: str
    started_at: float
    blocked_until: float | None
    strikes: int


def _dialect_insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# Written out rather than built with insert().on_conflict_do_update(): SQLAlchemy does not
# cache the compiled form of that construct, and compiling it costs ~10x running it. Both
# SQLite (3.35+) and PostgreSQL speak this SQL.
_OVER = "traffic_counter.expires_at <= excluded.started_at"  # the last window has ended


@lru_cache(maxsize=64)
def _count_statement(rows: int) -> Prepared:
    values = ", ".join(
        f"(:rule{i}, :subject{i}, :now, :expires{i}, 1, 0, :ref{i}, 0)" for i in range(rows)
    )
    restart = {
        "hits": ("1", "traffic_counter.hits + 1"),
        "answered": ("0", "traffic_counter.answered"),
        "started_at": ("excluded.started_at", "traffic_counter.started_at"),
        "expires_at": ("excluded.expires_at", "traffic_counter.expires_at"),
        "ref": ("excluded.ref", "traffic_counter.ref"),
    }
    updates = ", ".join(
        f"{column} = CASE WHEN {_OVER} THEN {new} ELSE {old} END"
        for column, (new, old) in restart.items()
    )
    # Only constants and the row count go into the text; every value is a bound parameter.
    return Prepared(
        text(
            "INSERT INTO traffic_counter"  # noqa: S608
            " (rule, subject, started_at, expires_at, hits, answered, ref, strikes)"
            f" VALUES {values} ON CONFLICT (rule, subject) DO UPDATE SET {updates}"
            " RETURNING rule, subject, hits, answered, ref, started_at, blocked_until, strikes"
        )
    )


def count(tx: Connection, bumps: Sequence[Bump], now: float) -> dict[tuple[str, str], Count]:
    """Add one hit to each counter (a new window if its last one ended); the counts after."""
    if not bumps:
        return {}
    parameters: dict[str, object] = {"now": now}
    for i, bump in enumerate(bumps):
        parameters[f"rule{i}"] = bump.rule
        parameters[f"subject{i}"] = bump.subject
        parameters[f"expires{i}"] = bump.expires_at
        parameters[f"ref{i}"] = bump.ref
    rows = _count_statement(len(bumps))(tx, parameters)
    return {(row[0], row[1]): Count(*row) for row in rows}


@lru_cache(maxsize=16)
def _answered_statement(keys: int) -> Prepared:
    # One OR of (rule AND subject) per key, not a row-value IN: SQLite scans the whole
    # table for `(rule, subject) IN (VALUES ...)` but searches the primary key for this.
    matches = " OR ".join(f"(rule = :rule{i} AND subject = :subject{i})" for i in range(keys))
    return Prepared(
        text(
            "UPDATE traffic_counter SET answered = answered + 1"  # noqa: S608
            f" WHERE ({matches}) AND expires_at > :now"
        )
    )


def count_answer(tx: Connection, keys: list[tuple[str, str]], now: float) -> None:
    parameters: dict[str, object] = {"now": now}
    for i, (rule, subject) in enumerate(keys):
        parameters[f"rule{i}"] = rule
        parameters[f"subject{i}"] = subject
    _answered_statement(len(keys))(tx, parameters)


_BLOCK = (
    update(COUNTER)
    .where(K.rule == bindparam("p_rule"), K.subject == bindparam("p_subject"))
    .values(
        blocked_until=bindparam("until"),
        strikes=bindparam("p_strikes"),
        hits=0,
        answered=0,
        started_at=bindparam("now"),
        expires_at=bindparam("until"),
    )
)


def block(
    tx: Connection, rule: str, subject: str, *, now: float, until: float, strikes: int
) -> None:
    """Block a subject; its measurement starts afresh when the block ends."""
    parameters = {"p_rule": rule, "p_subject": subject, "now": now, "until": until}
    tx.execute(_BLOCK, {**parameters, "p_strikes": strikes})


_RESTART = (
    update(COUNTER)
    .where(K.rule == bindparam("p_rule"), K.subject == bindparam("p_subject"))
    .values(
        hits=1,
        ref=bindparam("p_ref"),
        started_at=bindparam("now"),
        expires_at=bindparam("until"),
    )
)


def restart(tx: Connection, bump: Bump, now: float) -> None:
    """Start a counter's window anew at this hit (a cooldown whose challenge is gone)."""
    tx.execute(
        _RESTART,
        {"p_rule": bump.rule, "p_subject": bump.subject, "p_ref": bump.ref, "now": now,
         "until": bump.expires_at},
    )  # fmt: skip


_PURGE = delete(COUNTER).where(
    K.expires_at < bindparam("now"),
    K.blocked_until.is_(None) | (K.blocked_until < bindparam("forgotten")),
)
FORGET_BLOCKS = 7 * 86400  # a subject blocked this long ago starts again from one strike


def purge(tx: Connection, now: float) -> None:
    """Counters whose window ended are just rows, unless they remember a recent block."""
    tx.execute(_PURGE, {"now": now, "forgotten": now - FORGET_BLOCKS})


# Admin reads and writes: not hot, plain Core statements.


def load_policy(tx: Connection) -> tuple[list[RuleIn], Policy]:
    from app.traffic.settings import merged_rules

    stored = [RuleIn(**row._mapping) for row in tx.execute(select(RULE))]
    rules = tuple(RuleIn(**r.model_dump(exclude={"default"})) for r in merged_rules(stored))
    countries = {
        row.code: CountryIn(code=row.code, permission=row.permission, hourly_cap=row.hourly_cap)
        for row in tx.execute(select(COUNTRY))
    }
    safe = frozenset(row.entry for row in tx.execute(select(SAFE.c.entry)))
    raw = tx.execute(select(SETTING.c.value).where(SETTING.c.key == SETTINGS_KEY)).scalar()
    settings = TrafficSettingsIn(**json.loads(raw)) if raw else TrafficSettingsIn()
    return stored, Policy(rules=rules, countries=countries, safe=safe, settings=settings)


def _upsert(tx: Connection, table: Any, row: dict[str, Any], key: str) -> None:
    statement = _dialect_insert(tx.dialect.name)(table).values(row)
    rest = {name: statement.excluded[name] for name in row if name != key}
    tx.execute(statement.on_conflict_do_update(index_elements=[key], set_=rest))


def save_rule(tx: Connection, rule: RuleIn) -> None:
    _upsert(tx, RULE, rule.model_dump(), "name")


def delete_rule(tx: Connection, name: str) -> int:
    return int(tx.execute(delete(RULE).where(RULE.c.name == name)).rowcount)


def save_country(tx: Connection, country: CountryIn) -> None:
    _upsert(tx, COUNTRY, country.model_dump(), "code")


def delete_country(tx: Connection, code: str) -> int:
    return int(tx.execute(delete(COUNTRY).where(COUNTRY.c.code == code)).rowcount)


def save_safe(tx: Connection, entry: SafeIn) -> None:
    _upsert(tx, SAFE, entry.model_dump(), "entry")


def safe_list(tx: Connection) -> list[SafeIn]:
    return [
        SafeIn(entry=r.entry, note=r.note) for r in tx.execute(select(SAFE).order_by(SAFE.c.entry))
    ]


def delete_safe(tx: Connection, entry: str) -> int:
    return int(tx.execute(delete(SAFE).where(SAFE.c.entry == entry)).rowcount)


def save_settings(tx: Connection, settings: TrafficSettingsIn) -> None:
    _upsert(tx, SETTING, {"key": SETTINGS_KEY, "value": settings.model_dump_json()}, "key")


def counters(
    tx: Connection, now: float, rule: str | None, subject: str | None, limit: int
) -> list[Any]:
    query = select(COUNTER).where(K.expires_at > now).order_by(K.rule, K.subject).limit(limit)
    if rule:
        query = query.where(K.rule == rule)
    if subject:
        query = query.where(K.subject == subject)
    return list(tx.execute(query))


def blocks(tx: Connection, now: float) -> list[Any]:
    query = select(COUNTER).where(K.blocked_until > now).order_by(K.blocked_until.desc())
    return list(tx.execute(query))


def lift(tx: Connection, rule: str, subject: str, now: float) -> int:
    """End a block; the subject's doubling starts again from the first block."""
    statement = (
        update(COUNTER)
        .where(K.rule == rule, K.subject == subject, K.blocked_until > now)
        .values(blocked_until=None, strikes=0, hits=0, answered=0, started_at=now,
                expires_at=now)
    )  # fmt: skip
    return int(tx.execute(statement).rowcount)
