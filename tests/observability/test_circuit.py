"""The circuit breaker, replayed from attempts with their own timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.db.health_repo import Attempt
from app.services.circuit import COOL_OFF, replay

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float, ok: bool) -> Attempt:
    moment = T0 + timedelta(seconds=seconds)
    return Attempt(ok=ok, started_at=moment, finished_at=moment, latency_ms=10.0, error="")


def history(*attempts: Attempt) -> list[Attempt]:
    """Attempts as the database answers them: newest first."""
    return sorted(attempts, key=lambda a: a.started_at, reverse=True)


def test_five_failures_in_a_row_open_the_circuit():
    attempts = history(at(0, True), *(at(1 + i, False) for i in range(5)))
    state = replay(attempts, T0 + timedelta(seconds=6))
    assert state.state == "open" and state.opened_at == T0 + timedelta(seconds=5)
    assert replay(attempts[1:], T0 + timedelta(seconds=6)).state == "closed"  # only four


def test_half_of_the_last_twenty_within_a_minute_open_the_circuit():
    alternating = [at(i, i % 2 == 0) for i in range(20)]  # 10 of 20 failed, never 5 in a row
    assert replay(history(*alternating), T0 + timedelta(seconds=21)).state == "open"


def test_the_same_failures_spread_over_more_than_a_minute_do_not():
    spread = [at(i * 10, i % 2 == 0) for i in range(20)]  # 10 failures across 190 s
    assert replay(history(*spread), T0 + timedelta(seconds=200)).state == "closed"


def test_after_thirty_seconds_it_is_half_open():
    failures = [at(i, False) for i in range(5)]
    opened = T0 + timedelta(seconds=4)
    assert replay(history(*failures), opened + COOL_OFF - timedelta(seconds=1)).state == "open"
    assert replay(history(*failures), opened + COOL_OFF).state == "half_open"


def test_a_successful_probe_closes_it_and_the_failures_before_are_forgotten():
    failures = [at(i, False) for i in range(5)]
    probe = at(4 + COOL_OFF.total_seconds() + 1, True)
    after = at(probe.started_at.timestamp() - T0.timestamp() + 1, False)
    state = replay(history(*failures, probe, after), after.finished_at)
    assert state.state == "closed"


def test_a_failed_probe_opens_it_again_for_another_thirty_seconds():
    failures = [at(i, False) for i in range(5)]
    probe = at(4 + COOL_OFF.total_seconds() + 1, False)
    state = replay(history(*failures, probe), probe.finished_at + timedelta(seconds=1))
    assert state.state == "open" and state.opened_at == probe.finished_at
    assert state.reason == "the probe failed"


def test_attempts_already_under_way_when_it_opened_are_no_evidence():
    failures = [at(i, False) for i in range(5)]
    late_success = at(10, True)  # started before the cool-off ended
    state = replay(history(*failures, late_success), T0 + timedelta(seconds=11))
    assert state.state == "open"
