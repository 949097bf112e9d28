"""Per-gateway limits over the API, and what a send meets when they hold it back."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.api.sms_login import PHONE, gateway_to_sink

DAY = 86_400


async def _limits(api):
    [limits] = await api.value("/traffic/gateways", params={"gateway": "sms-gw"})
    return limits


SEND = {"gateway": "sms-gw", "phone": PHONE, "message": "hello"}


async def test_gateways_are_unlimited_by_default_but_a_modem_sends_one_at_a_time(admin_api):
    await admin_api.post("/smsgateway", {
        "name": "modem", "module": "providers.gsm_modem.GsmModemProvider",
        "option.PORT": "/dev/ttyUSB0",
    })  # fmt: skip
    await admin_api.post("/smsgateway", {
        "name": "web", "module": "providers.http.HttpProvider", "option.URL": "http://x.test/"
    })  # fmt: skip
    limits = {g["gateway"]: g for g in await admin_api.value("/traffic/gateways")}
    assert limits["modem"]["max_concurrency"] == 1 and limits["modem"]["default"] is True
    web = limits["web"]
    assert (web["max_concurrency"], web["rate"], web["burst"], web["daily_cap"]) == (
        None, None, 0, None,
    )  # fmt: skip


async def test_limits_are_set_read_and_reset(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    body = {"rate": 50, "burst": 10, "max_concurrency": 4, "daily_cap": 1000}
    saved = await admin_api.post("/traffic/gateways/sms-gw", body)
    assert saved == {**body, "gateway": "sms-gw", "default": False, "sent_today": 0}
    assert await _limits(admin_api) == saved
    # The privacyIDEA-compatible definition is untouched.
    [gateway] = await admin_api.value("/smsgateway/")
    assert set(gateway["options"]) == {"URL", "HTTP_METHOD", "to", "text"}
    assert await admin_api.delete("/traffic/gateways/sms-gw") == 1
    assert (await _limits(admin_api))["default"] is True


@pytest.mark.parametrize(
    ("key", "value"),
    [("rate", 0), ("rate", "fast"), ("burst", -1), ("max_concurrency", 0), ("daily_cap", -1)],
)
async def test_bad_limits_are_a_400_naming_the_field_and_nothing_is_stored(
    admin_api, http_sink, key, value
):
    await gateway_to_sink(admin_api, http_sink)
    error = await admin_api.post_error("/traffic/gateways/sms-gw", {key: value}, status=400)
    assert key in error["message"]
    assert (await _limits(admin_api))["default"] is True


async def test_limits_of_an_unknown_gateway_are_a_404(admin_api):
    await admin_api.post_error("/traffic/gateways/nope", {"rate": 1}, status=404, code=601)
    await admin_api.error(
        "GET", "/traffic/gateways", params={"gateway": "nope"}, status=404, code=601
    )


async def test_a_rate_holds_in_every_second_of_the_gateways_clock(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post("/traffic/gateways/sms-gw", {"rate": 20, "burst": 3})
    # Every send waits for its slot, however slowly a loaded machine reaches the gateway; a
    # send that wakes too late for its slot gives it up and spends a retry.
    await admin_api.post("/system/setConfig", {"sms.inline_budget": 60, "sms.retries": 10})
    await asyncio.gather(*(admin_api.post("/sms/send", SEND) for _ in range(50)))
    per_second = Counter(int(r.at) for r in http_sink.requests)
    assert sum(per_second.values()) == 50
    assert max(per_second.values()) <= 20 + 3, per_second


async def test_a_daily_cap_stops_the_gateway_until_the_next_day(admin_api, http_sink, clock):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post("/traffic/gateways/sms-gw", {"daily_cap": 2})
    for _ in range(2):
        await admin_api.post("/sms/send", SEND)
    error = await admin_api.post_error("/sms/send", SEND, status=502, code=801)
    assert "gateway_limit: daily cap of 2 messages reached" in error["message"]
    assert (await _limits(admin_api))["sent_today"] == 2
    clock.advance(86400)
    await admin_api.post("/sms/send", SEND)
    assert len(http_sink.requests) == 3


async def test_a_send_that_would_wait_too_long_is_throttled_and_says_why(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post("/traffic/gateways/sms-gw", {"rate": 0.1})
    await admin_api.post("/sms/send", SEND)
    error = await admin_api.post_error("/sms/send", SEND, status=502, code=801)
    assert "gateway_limit: rate limit 0.1/s (burst 0): next slot in" in error["message"]
    [failed] = (await admin_api.value("/sms/messages", params={"status": "failed"}))["messages"]
    [attempt] = failed["attempt_log"]
    assert attempt["error"].startswith("sms-gw: gateway_limit: rate limit 0.1/s")
    assert len(http_sink.requests) == 1


async def test_a_message_whose_wait_does_not_fit_its_deadline_fails_over(
    admin_api, http_sink, clock
):
    clock.now = (clock.now // DAY) * DAY + DAY / 2  # noon: the cap lifts 12 h after the send
    await gateway_to_sink(admin_api, http_sink)
    await gateway_to_sink(admin_api, http_sink, name="fallback")
    await admin_api.post("/traffic/gateways/sms-gw", {"daily_cap": 1})  # until tomorrow
    route = {"gateways": ["sms-gw", "fallback"], "phone": PHONE, "message": "hello"}
    first = await admin_api.post("/sms/send", route)
    second = await admin_api.post("/sms/send", route)
    assert [a["gateway"] for a in first["attempt_log"]] == ["sms-gw"]
    assert [(a["gateway"], a["outcome"]) for a in second["attempt_log"]] == [
        ("sms-gw", "retryable"),
        ("fallback", "accepted"),
    ]
    assert "gateway_limit: daily cap of 1 messages reached" in second["attempt_log"][0]["error"]
    assert len(http_sink.requests) == 2


async def test_concurrency_holds_sends_beyond_it(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post("/traffic/gateways/sms-gw", {"max_concurrency": 2})
    http_sink.delay = 0.05
    await asyncio.gather(*(admin_api.post("/sms/send", SEND) for _ in range(8)))
    assert len(http_sink.requests) == 8
    assert http_sink.max_in_flight == 2
