"""What the engine does after a failure, decided on the SendError's class alone."""

from __future__ import annotations

import pytest

from app.delivery.config import DeliveryConfig
from app.delivery.policy import next_step, outcome_of
from providers.base import (
    OutcomeUnknown,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    TemporaryFailure,
    Throttled,
    TimedOut,
    Unreachable,
)

CONFIG = DeliveryConfig(retries=2, backoff=0.5)


def step(error: SendError, *, hops: int = 2, hop: int = 0, tries: int = 1, remaining=100.0):
    return next_step(error, hops=hops, hop=hop, hop_tries=tries, remaining=remaining, config=CONFIG)


@pytest.mark.parametrize(
    "error",
    [
        Unreachable("connection", "refused"),
        TimedOut("timeout", "no answer"),
        RejectedByGateway("http_401", "bad credentials"),
        OutcomeUnknown("lost", "connection lost after the request"),
    ],
    ids=["unreachable", "timeout", "rejected-by-gateway", "outcome-unknown"],
)
def test_these_fail_over_to_the_next_gateway(error):
    assert step(error).action == "failover" and step(error).hop == 1


def test_a_rejected_number_stops_at_once():
    assert step(RejectedNumber("cms_1", "unassigned number")).action == "fail"


def test_a_temporary_failure_is_retried_on_the_same_gateway_with_jittered_backoff():
    delays = {step(TemporaryFailure("http_503", "busy")).delay for _ in range(20)}
    assert all(0.25 <= d <= 0.75 for d in delays) and len(delays) > 1
    assert step(TemporaryFailure("http_503", "busy"), tries=2).delay >= 0.5


def test_a_temporary_failure_fails_over_once_the_retries_are_used_up():
    assert step(TemporaryFailure("http_503", "busy"), tries=3).action == "failover"


def test_throttling_waits_when_the_wait_fits_the_deadline_else_fails_over():
    assert step(Throttled("http_429", "slow down", retry_after=2)).delay == 2
    late = step(Throttled("http_429", "slow down", retry_after=200), remaining=100)
    assert late.action == "failover"


def test_the_last_gateway_unreachable_is_retried_until_the_retries_are_used_up():
    assert step(Unreachable("connection", "refused"), hops=1).action == "retry"
    assert step(Unreachable("connection", "refused"), hops=1, tries=3).action == "fail"


def test_rejected_by_the_last_gateway_fails():
    assert step(RejectedByGateway("http_401", "no"), hops=1).action == "fail"


def test_an_unknown_outcome_fails_when_the_policy_says_so():
    config = DeliveryConfig(unknown_outcome="fail")
    error = OutcomeUnknown("lost", "?")
    decided = next_step(error, hops=2, hop=0, hop_tries=1, remaining=100, config=config)
    assert decided.action == "fail"


def test_outcomes_are_named_by_class():
    assert outcome_of(TimedOut("timeout", "")) == "unknown"
    assert outcome_of(Unreachable("connection", "")) == "retryable"
    assert outcome_of(RejectedNumber("cms_1", "")) == "permanent"
