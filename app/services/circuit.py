"""The circuit breaker: a gateway that keeps failing is skipped until a probe succeeds.

Its state is not stored anywhere: it is replayed from the gateway's last attempts in the
database, so every worker and node derives the same state from the same rows, and a
restart forgets nothing. A gateway opens after FAILURES_IN_A_ROW failures in a row, or
when at least RATIO_FAILURES of its last RATIO_WINDOW attempts failed within RATIO_SECONDS.
COOL_OFF seconds after it opened it is half-open: one send may probe it; a success closes
it (the failures before are forgotten), a failure opens it again.

One probe per process: the probe is claimed in memory, so with N workers up to N probes
may go out together. Route steps ask `is_open`, which reads at most every CACHE_SECONDS
per gateway and process, so a state a send acts on may be that old.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from app.db import health_repo
from app.db.health_repo import CIRCUIT_OPEN, Attempt
from app.db.tables import utcnow
from app.runtime import Runtime
from providers.base import Unreachable

log = logging.getLogger("smsgw.circuit")
FAILURES_IN_A_ROW = 5
RATIO_WINDOW = 20
RATIO_FAILURES = 10  # half of RATIO_WINDOW
RATIO_SECONDS = 60.0
COOL_OFF = timedelta(seconds=30)
HISTORY = 40  # attempts replayed: enough to see a trip and what followed it
CACHE_SECONDS = 1.0
PROBE_SECONDS = 120.0  # a probe claim not decided by then lets another probe go

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class Circuit:
    state: State
    opened_at: datetime | None = None
    reason: str = ""

    @property
    def open(self) -> bool:
        return self.state != "closed"


def _trip_reason(window: Sequence[Attempt]) -> str:
    in_a_row = 0
    for attempt in reversed(window):
        if attempt.ok:
            break
        in_a_row += 1
    if in_a_row >= FAILURES_IN_A_ROW:
        return f"{in_a_row} failures in a row"
    last = window[-1].finished_at
    recent = [
        a for a in window[-RATIO_WINDOW:] if (last - a.finished_at).total_seconds() <= RATIO_SECONDS
    ]
    failed = sum(1 for a in recent if not a.ok)
    if failed >= RATIO_FAILURES:
        return f"{failed} of the last {len(recent)} attempts failed within a minute"
    return ""


def replay(newest_first: Sequence[Attempt], now: datetime) -> Circuit:
    """The circuit's state after these attempts, at `now`."""
    opened_at: datetime | None = None
    reason = ""
    window: list[Attempt] = []
    for attempt in reversed(newest_first):
        if opened_at is not None:
            if attempt.started_at < opened_at + COOL_OFF:
                continue  # already on its way when the circuit opened: no evidence
            if attempt.ok:  # the probe went through
                opened_at, reason, window = None, "", [attempt]
            else:
                opened_at, reason = attempt.finished_at, "the probe failed"
            continue
        window.append(attempt)
        reason = _trip_reason(window)
        if reason:
            opened_at, window = attempt.finished_at, []
    if opened_at is None:
        return Circuit("closed")
    state: State = "half_open" if now >= opened_at + COOL_OFF else "open"
    return Circuit(state, opened_at, reason)


async def circuit(rt: Runtime, gateway: str) -> Circuit:
    """The gateway's circuit, read from the database now."""
    attempts = await rt.db.read(lambda tx: health_repo.recent_attempts(tx, gateway, HISTORY))
    return replay(attempts, utcnow())


_cached: dict[str, tuple[float, Circuit]] = {}
# One read per gateway at a time: when the cached state expires under load, every send
# waiting on it shares the same read instead of each starting its own.
_reading: dict[str, asyncio.Task[Circuit]] = {}
_probes: dict[tuple[str, datetime | None], float] = {}


async def _current(rt: Runtime, gateway: str, now: float) -> Circuit:
    cached = _cached.get(gateway)
    if cached is not None and cached[0] >= now:
        return cached[1]
    reading = _reading.get(gateway)
    if reading is None:
        reading = asyncio.get_running_loop().create_task(circuit(rt, gateway))
        _reading[gateway] = reading
        reading.add_done_callback(lambda _: _reading.pop(gateway, None))
    state = await asyncio.shield(reading)
    _cached[gateway] = (time.monotonic() + CACHE_SECONDS, state)
    return state


async def is_open(rt: Runtime, gateway: str) -> bool:
    """Whether a route step should skip this gateway now.

    Half-open answers False once (this caller is the probe) and True to the others until the
    probe's attempt is in the database.
    """
    now = time.monotonic()
    try:
        state = await _current(rt, gateway, now)
    except (SQLAlchemyError, OSError) as exc:
        # The breaker must not stop sends the gateway could take: unknown counts as closed.
        log.warning("circuit of %s unknown (%s); treated as closed", gateway, type(exc).__name__)
        return False
    if state.state != "half_open":
        return state.open
    key = (gateway, state.opened_at)
    claimed = _probes.get(key)
    if claimed is not None and claimed > now:
        return True
    for stale in [k for k, until in _probes.items() if until <= now]:
        del _probes[stale]
    _probes[key] = now + PROBE_SECONDS
    return False


def forget() -> None:
    """Drop every remembered state and probe claim (the rows they came from are gone)."""
    _cached.clear()
    _probes.clear()


def refusal(gateway: str) -> Unreachable:
    """The error a route step raises for a gateway it skips: the next gateway is tried."""
    return Unreachable(CIRCUIT_OPEN, f"{gateway} keeps failing: its circuit is open")


def attempt_recorded(gateway: str) -> None:
    """Read the gateway's state afresh next time (for tests and tools: a send does not call
    this, or every send would cost a read; a state is at most CACHE_SECONDS old)."""
    _cached.pop(gateway, None)
