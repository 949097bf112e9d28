"""The check before a challenge (and, when enabled, before /sms/send) is created.

`plan()` decides what needs no counter (an unparseable number, a refused number type, a
denied country) and lists the counters this challenge moves; `Plan.admit()` moves them all
with one statement inside the transaction that creates the challenge, and raises `Refused`
to roll that transaction back when a rule blocks, so a refused challenge counts nowhere
and sends nothing. `settle()` then writes what must outlive the rollback (a conversion
block that just tripped) and audits every rule that was hit.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, and_, select
from sqlalchemy.orm import Session

from app.db.tables import Challenge, table
from app.observability import metrics
from app.services.audit import entry, note
from app.traffic import repo
from app.traffic.numbers import InvalidNumber, NumberFacts, facts
from app.traffic.settings import Policy

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger("smsgw.traffic")
RESEND = "resend_cooldown"
CHALLENGE = table(Challenge)
Kind = Literal["invalid", "blocked", "cooldown"]


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule that matched: `enforce` blocks, `monitor` is only audited."""

    rule: str
    mode: str
    subject: str  # masked where it is a number or prefix
    reason: str


@dataclass(frozen=True, slots=True)
class Trip:
    """A conversion block that tripped: written after the refused challenge rolled back."""

    rule: str
    subject: str
    until: float
    strikes: int


@dataclass
class Refused(Exception):
    """No challenge: raised inside the challenge's transaction so nothing is written."""

    kind: Kind
    message: str
    rule: str = ""
    transaction_id: str = ""  # a cooldown: the open challenge to answer again
    started_at: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    trips: list[Trip] = field(default_factory=list)


@dataclass
class Plan:
    policy: Policy
    now: float
    bumps: list[repo.Bump]
    limits: dict[str, tuple[int, str]]  # rule name -> limit, mode
    hits: list[Hit]
    serial: str
    cooldown: repo.Bump | None = None
    purge: bool = False  # also delete ended counters: one check a minute per process does

    def admit(self, session: Session) -> list[Hit]:
        """Move every counter (one statement); raise Refused if an enforced rule blocks."""
        tx = session.connection()
        if self.purge:
            repo.purge(tx, self.now)
        counts = repo.count(tx, self.bumps, self.now)
        hits = list(self.hits)
        if self.cooldown is not None:
            self._cooldown(tx, counts)
        trips: list[Trip] = []
        for bump in self.bumps:
            got = counts[(bump.rule, bump.subject)]
            if bump.rule.startswith("conversion_"):
                self._conversion(bump, got, hits, trips)
            elif bump.rule in self.limits:
                limit, mode = self.limits[bump.rule]
                if got.hits > limit:
                    hits.append(Hit(bump.rule, mode, _shown(bump.subject), f"over {limit}"))
        blocking = [hit for hit in hits if hit.mode == "enforce"]
        if blocking:
            raise Refused(
                "blocked", blocked_message(blocking[0].rule), blocking[0].rule, hits=hits,
                trips=trips,
            )  # fmt: skip
        return hits

    def _cooldown(self, tx: Connection, counts: dict[tuple[str, str], repo.Count]) -> None:
        assert self.cooldown is not None
        got = counts[(self.cooldown.rule, self.cooldown.subject)]
        if got.hits <= 1:
            return
        if _still_open(tx, got.ref, self.serial, self.now):
            raise Refused("cooldown", "", RESEND, got.ref, got.started_at)
        repo.restart(tx, self.cooldown, self.now)  # its challenge was answered or dropped

    def _conversion(
        self,
        bump: repo.Bump,
        got: repo.Count,
        hits: list[Hit],
        trips: list[Trip],
    ) -> None:
        guard = self.policy.settings.conversion
        shown = _shown(bump.subject)
        if got.blocked_until is not None and got.blocked_until > self.now:
            hits.append(Hit(bump.rule, guard.mode, shown, "blocked: rarely answered"))
            return
        sent = got.hits - 1  # before this one
        if sent < guard.min_sent or got.answered >= guard.min_answered * sent:
            return
        strikes = got.strikes
        if got.blocked_until is not None and self.now - got.blocked_until > guard.max_block:
            strikes = 0  # quiet for a longest block since the last: start over
        seconds = min(guard.block * 2**strikes, guard.max_block)
        if guard.mode == "enforce":  # monitor only notes what it would have blocked
            trips.append(Trip(bump.rule, bump.subject, self.now + seconds, strikes + 1))
        hits.append(Hit(bump.rule, guard.mode, shown, f"{got.answered} of {sent} answered"))


def blocked_message(rule: str) -> str:
    return f"The SMS was not sent: blocked by the traffic rule {rule!r}."


def invalid_message() -> str:
    return "The token's phone number is not a valid phone number; no SMS was sent."


def _shown(subject: str) -> str:
    """Numbers and prefixes are masked in the audit trail, like in the message log."""
    if subject.startswith("+") and len(subject) > 6:
        return subject[:4] + "*" * (len(subject) - 6) + subject[-2:]
    return subject


def _still_open(tx: Connection, transaction_id: str, serial: str, now: float) -> bool:
    c = CHALLENGE.c
    query = select(c.id).where(
        and_(
            c.transaction_id == transaction_id,
            c.serial == serial,
            c.answered.is_(False),
            c.expires_at > datetime.fromtimestamp(now, UTC),
        )
    )
    return tx.execute(query.limit(1)).first() is not None


async def plan(
    rt: Runtime,
    *,
    phone: str,
    user: str,
    ip: str,
    serial: str = "",
    transaction_id: str = "",
    for_challenge: bool = True,
) -> Plan:
    """What this send must pass; raises Refused for what needs no counter."""
    policy = await rt.traffic.policy()
    now = rt.traffic.clock()
    try:
        number = facts(phone)
    except InvalidNumber:
        raise Refused("invalid", invalid_message()) from None
    hits: list[Hit] = []
    bumps: list[repo.Bump] = []
    limits: dict[str, tuple[int, str]] = {}
    settings = policy.settings
    cooldown = None
    if for_challenge and settings.resend_cooldown and serial:
        cooldown = repo.Bump(RESEND, serial, now + settings.resend_cooldown, transaction_id)
        bumps.append(cooldown)
    if not policy.is_safe(number.number):
        _static(policy, number, hits)
        _counting(policy, number, user, ip, now, bumps, limits)
        if for_challenge and settings.conversion.mode != "off":
            guard = settings.conversion
            for scope in guard.scopes:
                subject = number.prefix if scope == "prefix" else number.country
                bumps.append(repo.Bump(f"conversion_{scope}", subject, now + guard.window))
    blocking = [hit for hit in hits if hit.mode == "enforce"]
    if blocking:
        raise Refused("blocked", blocked_message(blocking[0].rule), blocking[0].rule, hits=hits)
    return Plan(policy, now, bumps, limits, hits, serial, cooldown, rt.traffic.purge_due())


def _static(policy: Policy, number: NumberFacts, hits: list[Hit]) -> None:
    """Number type and Geo permission: decided from the number alone."""
    shown = _shown(number.number)
    if number.kind in policy.settings.refused_types:
        hits.append(Hit(f"number_type_{number.kind}", "enforce", shown, number.kind))
    permission = policy.permission(number.country)
    if permission != "allow":
        mode = "enforce" if permission == "deny" else "monitor"
        hits.append(Hit(f"geo_{number.country}", mode, shown, permission))


def _counting(
    policy: Policy,
    number: NumberFacts,
    user: str,
    ip: str,
    now: float,
    bumps: list[repo.Bump],
    limits: dict[str, tuple[int, str]],
) -> None:
    subjects = {
        "number": number.number,
        "prefix": number.prefix,
        "country": number.country,
        "ip": ip,
        "user": user,
    }
    for rule in policy.rules:
        subject = subjects[rule.scope]
        if rule.active and subject:
            bumps.append(repo.Bump(rule.name, subject, now + rule.window))
            limits[rule.name] = (rule.limit, rule.mode)
    country = policy.countries.get(number.country)
    if country is not None and country.hourly_cap is not None:
        name = f"geo_{number.country}_hourly"
        bumps.append(repo.Bump(name, number.country, now + 3600))
        limits[name] = (country.hourly_cap, "enforce")


async def settle(rt: Runtime, hits: list[Hit], refused: Refused | None, **who: str) -> None:
    """Write a tripped block (after the rollback) and audit every rule that was hit."""
    if refused is not None and refused.trips:
        now = rt.traffic.clock()

        def write(tx: Connection) -> None:
            for trip in refused.trips:
                repo.block(
                    tx, trip.rule, trip.subject, now=now, until=trip.until, strikes=trip.strikes
                )

        await rt.db.write(lambda session: write(session.connection()))
    for hit in hits:
        blocked = hit.mode == "enforce"
        metrics.blocked(hit.rule, hit.mode)
        # The subject may be a number: the audit trail keeps it, the service log does not.
        log.warning("traffic rule %s %s: %s", hit.rule, "blocked" if blocked else "noted",
                    hit.reason)  # fmt: skip
        action = "traffic_block" if blocked else "traffic_monitor"
        info = f"{hit.subject}: {hit.reason}"
        await note(rt, entry(action=action, success=not blocked, target=hit.rule, info=info, **who))


def answered_keys(phone: str) -> list[tuple[str, str]]:
    """The conversion counters an answered challenge to this number counts in."""
    try:
        number = facts(phone)
    except InvalidNumber:
        return []
    return [("conversion_prefix", number.prefix), ("conversion_country", number.country)]


def count_answer(tx: Session, phone: str, now: float | None = None) -> None:
    """One more answered challenge for the number's prefix and country (one statement)."""
    keys = answered_keys(phone)
    if keys:
        repo.count_answer(tx.connection(), keys, time.time() if now is None else now)
