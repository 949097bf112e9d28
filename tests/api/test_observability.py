"""/metrics, /readyz, /sms/gateways/health and request ids, through the API."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert

from app.db.tables import DeliveryAttempt, MessageLog, utcnow
from app.services import circuit
from tests.api.sms_login import check, enrol, gateway_to_sink, last_otp
from tests.api.test_sms import make_gateway
from tests.observability.scraping import scrape, value


async def grant(api, action: str) -> None:
    """An admin policy granting `action` (and policywrite, to change it again)."""
    await api.post("/policy/ops", {"scope": "admin", "action": f"{action}, policywrite"})


async def send(api, gateway="gw1", phone="+491701234567", message="hi"):
    return await api.request(
        "POST", "/sms/send", json={"gateway": gateway, "phone": phone, "message": message}
    )


async def test_every_answer_carries_the_callers_request_id_or_a_new_one(anonymous_api):
    mine = await anonymous_api.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert mine.headers["x-request-id"] == "abc-123"
    fresh = await anonymous_api.client.get("/healthz")
    forged = await anonymous_api.client.get("/healthz", headers={"X-Request-ID": "a\nb c"})
    assert len(fresh.headers["x-request-id"]) == 16
    assert forged.headers["x-request-id"] not in ("a\nb c", fresh.headers["x-request-id"])


async def test_requests_are_counted_by_route_template_method_and_status(admin_api):
    before = await scrape(admin_api)
    for gateway_id in (7, 8):
        await admin_api.request("GET", f"/smsgateway/{gateway_id}")
    await admin_api.request("GET", "/no/such/path/123")
    after = await scrape(admin_api)
    template = {"route": "/smsgateway/{identifier}", "method": "GET", "status": "200"}
    name = "smsgw_http_requests_total"
    assert value(after, name, **template) - value(before, name, **template) == 2
    unmatched = {"route": "unmatched", "status": "404"}
    assert value(after, name, **unmatched) - value(before, name, **unmatched) == 1
    latency = "smsgw_http_request_duration_seconds_count"
    assert (
        value(after, latency, route="/smsgateway/{identifier}")
        - value(before, latency, route="/smsgateway/{identifier}")
        == 2
    )


async def test_metrics_outside_the_allow_list_need_the_metrics_read_action(service, admin_api):
    transport = httpx.ASGITransport(app=service, client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://smsgw.test") as outside:
        assert (await outside.get("/metrics")).status_code == 401
        token = {"Authorization": admin_api.token}
        assert (await outside.get("/metrics", headers=token)).status_code == 200
        await grant(admin_api, "sms_send")
        assert (await outside.get("/metrics", headers=token)).status_code == 403
        await grant(admin_api, "metrics_read")
        assert (await outside.get("/metrics", headers=token)).status_code == 200


async def test_a_scraper_outside_the_allow_list_may_use_an_api_key_with_metrics_read(
    service, admin_api
):
    scraper = await admin_api.post("/apikey", {"name": "prom", "actions": ["metrics_read"]})
    sender = await admin_api.post("/apikey", {"name": "app", "actions": ["sms_send"]})
    transport = httpx.ASGITransport(app=service, client=("10.1.2.3", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://smsgw.test") as outside:
        bearer = {"Authorization": f"Bearer {scraper['key']}"}
        assert (await outside.get("/metrics", headers=bearer)).status_code == 200
        other = {"Authorization": f"Bearer {sender['key']}"}
        assert (await outside.get("/metrics", headers=other)).status_code == 403


async def test_sends_and_attempts_are_counted_by_gateway_and_outcome(admin_api, http_sink):
    await make_gateway(admin_api, http_sink)
    before = await scrape(admin_api)
    assert (await send(admin_api)).status_code == 200
    http_sink.status = 400  # refused for good: one attempt, then the message has failed
    assert (await send(admin_api)).status_code == 502
    after = await scrape(admin_api)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("smsgw_sends_total", gateway="gw1", outcome="sent") == 1
    assert grew("smsgw_sends_total", gateway="gw1", outcome="failed") == 1
    assert grew("smsgw_send_attempts_total", gateway="gw1", outcome="accepted") == 1
    assert grew("smsgw_send_attempts_total", gateway="gw1", outcome="permanent") == 1
    assert grew("smsgw_send_attempt_duration_seconds_count", gateway="gw1") == 2
    assert grew("smsgw_send_duration_seconds_count", gateway="gw1") == 2


async def test_challenges_are_counted_started_accepted_and_rejected_by_reason(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    before = await scrape(admin_api)
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    await check(admin_api, user="alice", realm="corp", **{"pass": "9999"})
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234" + last_otp(http_sink)})
    after = await scrape(admin_api)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("smsgw_challenges_started_total", kind="challenge") == 1
    assert grew("smsgw_challenges_rejected_total", reason="wrong_pin") == 1
    assert grew("smsgw_challenges_accepted_total") == 1


async def test_outbox_depth_and_age_are_read_from_the_database_at_scrape(admin_api, runtime):
    created = utcnow() - timedelta(seconds=90)
    row = {"gateway": "gw1", "phone": "+491***67", "status": "queued", "created_at": created}
    rows = [row, {**row, "created_at": utcnow()}]
    await runtime.db.write(lambda tx: tx.execute(insert(MessageLog), rows))
    samples = await scrape(admin_api)
    assert value(samples, "smsgw_outbox_messages", status="queued") == 2
    assert value(samples, "smsgw_outbox_messages", status="sending") == 0
    assert value(samples, "smsgw_outbox_oldest_age_seconds", status="queued") >= 90


async def test_readyz_says_the_database_answers(anonymous_api, runtime, backend):
    reply = await anonymous_api.client.get("/readyz")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ready", "database": backend}


async def test_gateway_health_gives_ratio_latency_last_error_and_failures_in_a_row(
    admin_api, http_sink
):
    await make_gateway(admin_api, http_sink)
    await make_gateway(admin_api, http_sink, name="idle")
    for _ in range(3):
        await send(admin_api)
    http_sink.status, http_sink.reply = 400, "busy"
    for _ in range(2):
        await send(admin_api)
    health = {g["gateway"]: g for g in await admin_api.value("/sms/gateways/health")}
    gw1 = health["gw1"]
    assert gw1["window_attempts"] == 5 and gw1["success_ratio"] == 0.6
    assert gw1["p95_latency_ms"] > 0
    assert gw1["consecutive_failures"] == 2
    assert "busy" in gw1["last_error"] and gw1["last_error_at"]
    assert gw1["circuit"] == "closed"
    assert health["idle"]["window_attempts"] == 0 and health["idle"]["success_ratio"] is None


async def test_gateway_health_needs_the_gatewayhealth_read_action(admin_api):
    await grant(admin_api, "smsgateway_read")
    await admin_api.error("GET", "/sms/gateways/health", status=403, code=303)
    await grant(admin_api, "gatewayhealth_read")
    assert await admin_api.value("/sms/gateways/health") == []


async def test_five_failures_in_a_row_open_the_circuit_and_metrics_say_so(
    admin_api, http_sink, runtime
):
    await make_gateway(admin_api, http_sink)
    http_sink.status = 400
    for _ in range(circuit.FAILURES_IN_A_ROW):
        await send(admin_api)
    health = await admin_api.value("/sms/gateways/health")
    assert health[0]["circuit"] == "open"
    assert "5 failures in a row" in health[0]["circuit_reason"]
    samples = await scrape(admin_api)
    assert value(samples, "smsgw_circuit_open", gateway="gw1", state="open") == 1
    circuit.attempt_recorded("gw1")
    assert await circuit.is_open(runtime, "gw1")
    tried = len(http_sink.requests)
    refused = await send(admin_api)
    assert refused.status_code == 502 and "circuit is open" in refused.text
    assert len(http_sink.requests) == tried  # skipped, not tried
    health = await admin_api.value("/sms/gateways/health")
    assert health[0]["consecutive_failures"] == circuit.FAILURES_IN_A_ROW  # not evidence


async def failed_attempts(runtime, gateway: str, at: datetime, count: int) -> None:
    """Attempts that failed at `at`, written as the delivery engine writes them."""
    row = {
        "gateway": gateway,
        "node": "elsewhere:1",
        "started_at": at,
        "finished_at": at,
        "outcome": "retryable",
        "error": f"{gateway}: http_503: busy",
        "provider_ids": "",
        "parts": 0,
    }
    await runtime.db.write(lambda tx: tx.execute(insert(DeliveryAttempt), [row] * count))


async def test_a_half_open_circuit_lets_one_probe_through(admin_api, runtime):
    failed_at = utcnow() - circuit.COOL_OFF - timedelta(seconds=5)
    await failed_attempts(runtime, "probe-gw", failed_at, circuit.FAILURES_IN_A_ROW)
    circuit.attempt_recorded("probe-gw")
    assert await circuit.is_open(runtime, "probe-gw") is False  # this caller probes
    assert await circuit.is_open(runtime, "probe-gw") is True  # the others wait for it


@pytest.mark.parametrize("path", ["/metrics", "/readyz", "/healthz"])
async def test_observability_routes_answer_without_an_admin_token_from_loopback(
    anonymous_api, path
):
    assert (await anonymous_api.client.get(path)).status_code == 200
