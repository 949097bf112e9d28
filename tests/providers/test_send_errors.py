"""The SendError contract: the class says what happened; the code stays as data."""

from __future__ import annotations

import logging

import pytest

from providers.base import (
    OutcomeUnknown,
    Provider,
    ProviderOptions,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    SendResult,
    TemporaryFailure,
    Throttled,
    TimedOut,
    Unreachable,
    timed_out,
    unreachable,
)


@pytest.mark.parametrize(
    ("kind", "retryable"),
    [
        (Unreachable, True),
        (TemporaryFailure, True),
        (Throttled, True),
        (OutcomeUnknown, True),
        (TimedOut, True),
        (RejectedByGateway, False),
        (RejectedNumber, False),
    ],
)
def test_each_class_says_whether_the_same_gateway_may_be_tried_again(kind, retryable):
    assert kind.retryable is retryable
    error = kind("some_code", "what happened")
    assert (error.code, error.message, error.retryable) == ("some_code", "what happened", retryable)


def test_throttled_is_a_temporary_failure_and_timed_out_an_unknown_outcome():
    assert issubclass(Throttled, TemporaryFailure) and issubclass(TimedOut, OutcomeUnknown)
    assert Throttled("http_429", "slow down", retry_after=3).retry_after == 3
    assert type(timed_out(2)) is TimedOut and type(unreachable("refused")) is Unreachable


class _Careless(Provider[ProviderOptions]):
    async def send(self, phone: str, message: str) -> SendResult:
        raise ValueError(f"the password is hunter2, the number {phone}")


async def test_an_exception_a_provider_did_not_foresee_is_rejected_by_the_gateway(caplog):
    caplog.set_level(logging.ERROR, logger="smsgw.providers")
    with pytest.raises(RejectedByGateway) as error:
        await _Careless(ProviderOptions()).send("+491701234567", "123456")
    assert error.value.code == "internal" and "ValueError" in error.value.message
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "ValueError" in logged and "test_send_errors.py" in logged
    assert "hunter2" not in logged + str(error.value) and "491701234567" not in logged


async def test_a_send_error_passes_through_the_guard_unchanged():
    class Refusing(Provider[ProviderOptions]):
        async def send(self, phone: str, message: str) -> SendResult:
            raise RejectedNumber("invalid", "no such number")

    with pytest.raises(RejectedNumber):
        await Refusing(ProviderOptions()).send("+1", "x")
    assert issubclass(RejectedNumber, SendError)
