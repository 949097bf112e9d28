"""Per-gateway limits: a rate with a burst, a daily cap, and concurrency.

The rate is GCRA kept in the gateway's row: `tat` is when the gateway is next free at its
rate. One conditional UPDATE both admits a send and reserves its slot, in whichever process
or node makes it, so the rate holds across all of them; the sender then waits for its slot.
A slot further away than the send may wait is not taken: the UPDATE changes nothing and the
send is throttled (the delivery engine fails over). Concurrency is held per process (a
semaphore per gateway): a cluster-wide count would need a lease that a dead process can
leave behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, bindparam, case, select, update
from sqlalchemy.orm import Session

from app.schemas.types import WholeNumber
from app.traffic.repo import LIMIT, _dialect_insert
from providers.base import Throttled

if TYPE_CHECKING:
    from app.runtime import Runtime
    from app.services.provider_pool import GatewayConfig

L = LIMIT.c
MODEM = "providers.gsm_modem.GsmModemProvider"
DAY = 86400


class LimitsIn(BaseModel):
    """A gateway's contract; a field left out is unlimited."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"rate": 50, "burst": 10, "max_concurrency": 20}]},
    )

    max_concurrency: Annotated[int | None, WholeNumber] = Field(
        None, ge=1, le=100_000, description="Sends in flight at once, per process"
    )
    rate: float | None = Field(
        None, gt=0, le=100_000, strict=True, description="Messages per second"
    )
    burst: Annotated[int, WholeNumber] = Field(
        0, ge=0, le=100_000, description="Messages beyond the rate at once"
    )
    daily_cap: Annotated[int | None, WholeNumber] = Field(
        None, ge=0, le=1_000_000_000, description="Messages per UTC day"
    )


class LimitsOut(LimitsIn):
    gateway: str
    default: bool = Field(description="No limits were set: the defaults apply")
    sent_today: int = 0


@dataclass(frozen=True)
class Limits:
    max_concurrency: int | None = None
    rate: float | None = None
    burst: int = 0
    daily_cap: int | None = None

    @property
    def shared(self) -> bool:
        """Whether a send must pass the gateway's row (rate or daily cap)."""
        return self.rate is not None or self.daily_cap is not None


def default_limits(module: str) -> Limits:
    """Unlimited, but a modem sends one message at a time."""
    return Limits(max_concurrency=1) if module == MODEM else Limits()


class GatewayThrottled(Throttled):
    """Our own limit, not the gateway's answer: the delivery engine treats it the same way
    (wait if that fits the deadline, else fail over) and the attempt records why."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__("gateway_limit", reason, retry_after=retry_after)


# Half the burst is admitted at once, the other half is kept for sends that go out late
# (see _take_slot): at the gateway, no second sees more than rate + burst.
_TOLERANCE = case((L.burst >= 2, L.burst * 0.5 / L.rate), else_=0.0)
_START = case((L.tat > bindparam("now"), L.tat), else_=bindparam("now"))
_RESERVE = (
    update(LIMIT)
    .where(
        L.gateway == bindparam("p_gateway"),
        L.rate.is_(None) | (_START - bindparam("now") <= _TOLERANCE + bindparam("wait")),
        L.daily_cap.is_(None)
        | (L.day != bindparam("today"))
        | (L.day_count + bindparam("counted") <= L.daily_cap),
    )
    .values(
        tat=case((L.rate.is_(None), L.tat), else_=_START + 1.0 / L.rate),
        day_count=case(
            (L.day == bindparam("today"), L.day_count + bindparam("counted")),
            else_=bindparam("counted"),
        ),
        day=bindparam("today"),
    )
    .returning(L.tat, L.rate, L.burst)
)


def reserve(
    tx: Connection, gateway: str, now: float, max_wait: float, *, counted: bool = True
) -> float:
    """Take the gateway's next slot; seconds until it. GatewayThrottled if none fits.

    `counted=False` takes another slot for a send the daily cap already counted."""
    today = int(now // DAY)
    parameters = {"p_gateway": gateway, "now": now, "wait": max_wait, "today": today}
    parameters["counted"] = int(counted)
    row = tx.execute(_RESERVE, parameters).first()
    if row is not None:
        tat, rate, burst = row
        return 0.0 if rate is None else max(0.0, tat - 1 / rate - tolerance(burst, rate) - now)
    state = tx.execute(select(LIMIT).where(L.gateway == gateway)).first()
    if state is None:
        return 0.0  # its limits were deleted meanwhile
    if state.daily_cap is not None and state.day == today and state.day_count >= state.daily_cap:
        tomorrow = (today + 1) * DAY - now
        raise GatewayThrottled(f"daily cap of {state.daily_cap} messages reached", tomorrow)
    wait = max(state.tat, now) - tolerance(state.burst, state.rate) - now
    raise GatewayThrottled(
        f"rate limit {state.rate:g}/s (burst {state.burst}): next slot in {wait:.2f} s", wait
    )


def _reserve_on(
    session: Session, *, gateway: str, now: float, max_wait: float, counted: bool
) -> float:
    return reserve(session.connection(), gateway, now, max_wait, counted=counted)


async def limits_for(rt: Runtime, config: GatewayConfig) -> Limits:
    async def load() -> Limits:
        row = await rt.db.read(
            lambda tx: tx.execute(select(LIMIT).where(L.gateway == config.name)).first()
        )
        if row is None:
            return default_limits(config.module)
        return Limits(row.max_concurrency, row.rate, row.burst, row.daily_cap)

    return await rt.traffic.limits.get(config.name, load)


def _semaphore(rt: Runtime, gateway: str, size: int) -> asyncio.Semaphore:
    held = rt.traffic.semaphores.get(gateway)
    if held is None or held[0] != size:
        held = (size, asyncio.Semaphore(size))
        rt.traffic.semaphores[gateway] = held
    return held[1]


@asynccontextmanager
async def admitted(rt: Runtime, config: GatewayConfig, max_wait: float) -> AsyncIterator[None]:
    """Hold a send until the gateway's limits let it go; GatewayThrottled if that would take
    longer than `max_wait` seconds. Concurrency first, then the slot, so a reserved slot is
    never spent waiting for a free connection."""
    limits = await limits_for(rt, config)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_wait
    semaphore = None
    if limits.max_concurrency is not None:
        semaphore = _semaphore(rt, config.name, limits.max_concurrency)
        try:
            await asyncio.wait_for(semaphore.acquire(), max_wait)
        except TimeoutError:
            raise GatewayThrottled(
                f"{limits.max_concurrency} sends in flight for {max_wait:g} s", None
            ) from None
    try:
        if limits.shared:
            await _take_slot(rt, config.name, limits, deadline)
        yield
    finally:
        if semaphore is not None:
            semaphore.release()


def tolerance(burst: int, rate: float) -> float:
    """How far ahead of its rate a gateway may be sent to (GCRA's tau): half the burst."""
    return burst * 0.5 / rate if burst >= 2 else 0.0


def lateness(burst: int, rate: float) -> float:
    """How late a send may go out on its slot: the other half of the burst, or one interval."""
    return max(1.0, burst * 0.5) / rate


async def _take_slot(rt: Runtime, gateway: str, limits: Limits, deadline: float) -> None:
    """Wait for a slot of the gateway's rate. A send that wakes later than its slot allows
    (a busy process) takes a new slot rather than go out beside the sends of the next slots:
    the gateway, not just the database, sees at most rate + burst in any second (rate + 1
    with no burst)."""
    loop = asyncio.get_running_loop()
    counted = True
    while True:
        remaining = max(0.0, deadline - loop.time())
        now = rt.traffic.clock()
        wait = await rt.db.write(
            partial(_reserve_on, gateway=gateway, now=now, max_wait=remaining, counted=counted)
        )
        counted = False
        if wait > 0:
            await asyncio.sleep(wait)  # our own slot: the wait, not a poll
        if limits.rate is None:
            return
        if rt.traffic.clock() - (now + wait) <= lateness(limits.burst, limits.rate):
            return


def save(tx: Connection, gateway: str, limits: LimitsIn) -> None:
    row = {"gateway": gateway, **limits.model_dump(), "tat": 0.0, "day": 0, "day_count": 0}
    statement = _dialect_insert(tx.dialect.name)(LIMIT).values(row)
    kept = {"max_concurrency", "rate", "burst", "daily_cap"}  # the state carries over
    tx.execute(
        statement.on_conflict_do_update(
            index_elements=[L.gateway], set_={k: statement.excluded[k] for k in kept}
        )
    )
