"""A gateway that asks to slow down holds the message back; it does not use up its retries
while the wait fits the deadline."""

from __future__ import annotations

from aiohttp import web

from app.delivery.config import DeliveryConfig
from app.delivery.policy import next_step
from providers.base import TemporaryFailure, Throttled
from tests.delivery.helpers import PHONE, FlakySink, fast_retries, http_gateway

CONFIG = DeliveryConfig(retries=2, backoff=0.5)


def test_a_throttle_whose_wait_fits_is_waited_for_without_spending_a_retry():
    used_up = next_step(
        Throttled("http_429", "slow down", retry_after=2),
        hops=2,
        hop=0,
        hop_tries=3,
        remaining=100,
        config=CONFIG,
    )
    assert (used_up.action, used_up.hop, used_up.delay) == ("retry", 0, 2)
    assert not used_up.spends_try


def test_a_throttle_without_a_named_wait_waits_the_backoff_without_spending_a_retry():
    step = next_step(
        Throttled("smpp_0x58", "throttled"),
        hops=2,
        hop=0,
        hop_tries=3,
        remaining=100,
        config=CONFIG,
    )
    assert step.action == "retry" and step.delay > 0 and not step.spends_try


def test_retry_now_waits_the_backoff():
    step = next_step(
        Throttled("http_429", "now", retry_after=0),
        hops=1,
        hop=0,
        hop_tries=1,
        remaining=100,
        config=CONFIG,
    )
    assert CONFIG.backoff / 2 <= step.delay <= CONFIG.backoff * 1.5


def test_a_throttle_whose_wait_does_not_fit_still_fails_over():
    late = Throttled("http_429", "slow down", retry_after=200)
    step = next_step(late, hops=2, hop=0, hop_tries=1, remaining=100, config=CONFIG)
    assert step.action == "failover" and step.hop == 1


def test_other_temporary_failures_still_spend_their_retries():
    step = next_step(
        TemporaryFailure("http_503", "busy"),
        hops=2,
        hop=0,
        hop_tries=1,
        remaining=100,
        config=CONFIG,
    )
    assert step.action == "retry" and step.spends_try


async def test_throttled_more_often_than_the_retries_allow_the_message_still_goes_out_there(
    admin_api, http_sink
):
    # sms.retries is 2: four "slow down" answers would have used them up and failed over.
    sink = await FlakySink(failures=4, status=429).start()
    sink.reply_headers = {"Retry-After": "0"}
    try:
        await fast_retries(admin_api)
        await http_gateway(admin_api, "busy", sink.url + "/send")
        await http_gateway(admin_api, "fallback", http_sink.url + "/send")
        record = await admin_api.post(
            "/sms/send", {"gateways": ["busy", "fallback"], "phone": PHONE, "message": "x"}
        )
    finally:
        await sink.stop()
    assert record["status"] == "sent" and record["gateway"] == "busy"
    outcomes = [(a["gateway"], a["outcome"]) for a in record["attempt_log"]]
    assert outcomes == [("busy", "retryable")] * 4 + [("busy", "accepted")]
    assert all("http_429" in a["error"] for a in record["attempt_log"][:4])
    assert sink.count == 5 and http_sink.count == 0


class ScriptedSink(FlakySink):
    """Answers the given statuses in turn, then 200."""

    def __init__(self, statuses: list[int]) -> None:
        super().__init__(failures=0)
        self.statuses = statuses

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.failure_status = self.statuses[self.count] if self.count < len(self.statuses) else 200
        self.failures = self.count + 1
        return await super()._handle(request)


async def test_throttles_leave_the_retries_to_the_failures_after_them(admin_api, http_sink):
    # Three "slow down", then two 503 (the two retries), then accepted: all on "busy".
    sink = await ScriptedSink([429, 429, 429, 503, 503]).start()
    sink.reply_headers = {"Retry-After": "0"}
    try:
        await fast_retries(admin_api)
        await http_gateway(admin_api, "busy", sink.url + "/send")
        await http_gateway(admin_api, "fallback", http_sink.url + "/send")
        record = await admin_api.post(
            "/sms/send", {"gateways": ["busy", "fallback"], "phone": PHONE, "message": "y"}
        )
    finally:
        await sink.stop()
    assert [a["gateway"] for a in record["attempt_log"]] == ["busy"] * 6
    assert record["status"] == "sent" and http_sink.count == 0


def test_the_services_own_gateway_limit_spends_retries_while_another_gateway_could_send():
    own = Throttled("gateway_limit", "rate limit 50/s: next slot in 1.2 s", retry_after=1.2)
    step = next_step(own, hops=2, hop=0, hop_tries=1, remaining=100, config=CONFIG)
    assert step.action == "retry" and step.spends_try
    used_up = next_step(own, hops=2, hop=0, hop_tries=3, remaining=100, config=CONFIG)
    assert used_up.action == "failover"


def test_on_the_last_gateway_the_services_own_limit_waits_until_the_deadline():
    own = Throttled("gateway_limit", "rate limit 50/s: next slot in 1.2 s", retry_after=1.2)
    step = next_step(own, hops=2, hop=1, hop_tries=30, remaining=100, config=CONFIG)
    assert step.action == "retry" and not step.spends_try and step.delay == 1.2
    too_late = next_step(own, hops=1, hop=0, hop_tries=30, remaining=1.0, config=CONFIG)
    assert too_late.action == "fail"
