"""Durable delivery through the API: the outbox, routes, failover, deadlines, async sends,
idempotency. Real peers: an HTTP sink, a port where nothing listens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.db.tables import DeliveryAttempt, MessageLog, utcnow
from app.delivery import config as delivery_config
from app.delivery import intake
from tests.delivery.helpers import (
    PHONE,
    FlakySink,
    fast_retries,
    http_gateway,
    messages,
    refusing_url,
)
from tests.peers.modem_emulator import ModemEmulator
from tests.waiting import eventually_async as eventually


async def test_failover_when_the_first_gateway_refuses_connections(admin_api, http_sink):
    await http_gateway(admin_api, "dead", refusing_url())
    await http_gateway(admin_api, "live", http_sink.url + "/send")
    record = await admin_api.post(
        "/sms/send", {"gateways": ["dead", "live"], "phone": PHONE, "message": "Hello"}
    )
    assert record["status"] == "sent" and record["gateway"] == "live"
    assert record["route"] == ["dead", "live"]
    assert [(a["gateway"], a["outcome"]) for a in record["attempt_log"]] == [
        ("dead", "retryable"),
        ("live", "accepted"),
    ]
    assert http_sink.last.body == b"to=%2B491701234567&text=Hello"


async def test_a_synchronous_send_answers_the_message_exactly_as_stored(admin_api, http_sink):
    await http_gateway(admin_api, "dead", refusing_url())
    await http_gateway(admin_api, "live", http_sink.url + "/send")
    direct = await admin_api.post("/sms/send", {"gateway": "live", "phone": PHONE, "message": "a"})
    failed_over = await admin_api.post(
        "/sms/send", {"gateways": ["dead", "live"], "phone": PHONE, "message": "b"}
    )
    stored = {m["id"]: m for m in await messages(admin_api)}
    assert direct == stored[direct["id"]] and direct["attempts"] == 1
    assert failed_over == stored[failed_over["id"]] and failed_over["attempts"] == 2


async def test_a_5xx_is_retried_on_the_same_gateway_with_backoff(admin_api):
    sink = await FlakySink(failures=2).start()
    try:
        await fast_retries(admin_api)
        await http_gateway(admin_api, "flaky", sink.url + "/send")
        record = await admin_api.post(
            "/sms/send", {"gateway": "flaky", "phone": PHONE, "message": "x"}
        )
    finally:
        await sink.stop()
    assert record["status"] == "sent"
    outcomes = [(a["gateway"], a["outcome"]) for a in record["attempt_log"]]
    assert outcomes == [("flaky", "retryable"), ("flaky", "retryable"), ("flaky", "accepted")]
    assert sink.count == 3


async def test_when_every_gateway_fails_the_send_is_a_502_naming_them(admin_api, http_sink):
    await fast_retries(admin_api)
    await http_gateway(admin_api, "dead1", refusing_url())
    await http_gateway(admin_api, "dead2", refusing_url())
    error = await admin_api.post_error(
        "/sms/send", {"gateways": ["dead1", "dead2"], "phone": PHONE, "message": "x"}, status=502
    )
    assert "'dead1', 'dead2'" in error["message"]
    [message] = await messages(admin_api)
    assert message["status"] == "failed"
    assert message["attempt_log"][0]["gateway"] == "dead1"
    assert message["attempt_log"][-1]["gateway"] == "dead2"


async def test_an_unknown_gateway_in_the_list_is_a_404_naming_it_and_nothing_is_queued(
    admin_api, http_sink
):
    await http_gateway(admin_api, "live", http_sink.url + "/send")
    error = await admin_api.post_error(
        "/sms/send",
        {"gateways": ["live", "nope"], "phone": PHONE, "message": "x"},
        status=404,
        code=601,
    )
    assert "nope" in error["message"]
    assert await messages(admin_api) == []
    assert http_sink.requests == []


async def test_an_empty_gateway_list_is_a_400(admin_api, http_sink):
    error = await admin_api.post_error(
        "/sms/send", {"gateways": [], "phone": PHONE, "message": "x"}, status=400, code=905
    )
    assert "gateways" in error["message"]
    assert await messages(admin_api) == []


async def test_an_async_send_answers_202_with_the_queued_record_and_is_drained(
    admin_api, http_sink
):
    await http_gateway(admin_api, "live", http_sink.url + "/send")
    reply = await admin_api.request(
        "POST",
        "/sms/send",
        json={"gateway": "live", "phone": PHONE, "message": "later", "async": True},
    )
    assert reply.status_code == 202, reply.text
    record = reply.json()["result"]["value"]
    assert record["status"] in ("queued", "sending")

    async def sent() -> bool:
        return [m["status"] for m in await messages(admin_api)] == ["sent"]

    await eventually(sent)
    assert http_sink.last.body == b"to=%2B491701234567&text=later"


async def test_the_body_is_stored_sealed_and_wiped_once_final(admin_api, http_sink):
    await http_gateway(admin_api, "live", http_sink.url + "/send")
    runtime = admin_api.client._transport.app.state.runtime
    await admin_api.post("/sms/send", {"gateway": "live", "phone": PHONE, "message": "secret"})
    [row] = await runtime.db.read(lambda tx: tx.execute(select(MessageLog)).scalars().all())
    assert row.status == "sent" and row.body == "" and row.destination == ""


async def test_the_same_idempotency_key_answers_the_first_message_and_sends_nothing_again(
    admin_api, http_sink
):
    await http_gateway(admin_api, "live", http_sink.url + "/send")
    body = {"gateway": "live", "phone": PHONE, "message": "once"}
    headers = {"Idempotency-Key": "order-17"}
    first = (await admin_api.call("POST", "/sms/send", json=body, headers=headers))["result"]
    again = (await admin_api.call("POST", "/sms/send", json=body, headers=headers))["result"]
    assert again["value"]["id"] == first["value"]["id"]
    assert len(http_sink.requests) == 1
    other = {**body, "message": "twice"}
    error = await admin_api.error("POST", "/sms/send", json=other, headers=headers, status=422)
    assert "Idempotency-Key" in error["message"]
    assert len(http_sink.requests) == 1 and len(await messages(admin_api)) == 1


async def test_messages_are_filtered_by_transaction_id_and_status(admin_api, http_sink):
    await http_gateway(admin_api, "live", http_sink.url + "/send")
    await http_gateway(admin_api, "dead", refusing_url())
    await fast_retries(admin_api)
    await admin_api.post("/sms/send", {"gateway": "live", "phone": PHONE, "message": "a"})
    await admin_api.post_error(
        "/sms/send", {"gateway": "dead", "phone": PHONE, "message": "b"}, status=502
    )
    assert [m["gateway"] for m in await messages(admin_api, status="failed")] == ["dead"]
    assert [m["gateway"] for m in await messages(admin_api, status="sent")] == ["live"]
    assert await messages(admin_api, transaction_id="12345") == []


async def test_a_message_whose_deadline_passed_expires_and_is_never_sent(admin_api, http_sink):
    await http_gateway(admin_api, "live", http_sink.url + "/send")
    runtime = admin_api.client._transport.app.state.runtime
    now = utcnow()

    def write(tx):
        return intake.admit(
            tx,
            runtime.delivery,
            route=["live"],
            message=intake.Sealed.of(runtime.box, PHONE, "too late"),
            deadline=now - timedelta(seconds=1),
            inline=True,
            now=now,
            source="api",
        )

    admitted = await runtime.db.write(write)
    result = await intake.settle(runtime, admitted, delivery_config.DeliveryConfig(), "too late")
    assert result.status == "expired"
    [message] = await messages(admin_api)
    assert message["status"] == "expired" and message["attempt_log"] == []
    assert http_sink.requests == []


async def test_a_message_left_sending_by_a_dead_process_is_recorded_unknown_and_failed_over(
    admin_api, http_sink
):
    await http_gateway(admin_api, "first", http_sink.url + "/first")
    await http_gateway(admin_api, "second", http_sink.url + "/second")
    runtime = admin_api.client._transport.app.state.runtime
    now = utcnow()

    def crashed(tx):
        # What a process leaves behind when it dies between starting an attempt and its end.
        admitted = intake.admit(
            tx,
            runtime.delivery,
            route=["first", "second"],
            message=intake.Sealed.of(runtime.box, PHONE, "survives"),
            deadline=now + timedelta(minutes=5),
            inline=True,
            now=now,
            source="api",
        )
        tx.execute(
            MessageLog.__table__.update()
            .where(MessageLog.__table__.c.id == admitted.job.id)
            .values(lease_owner="gone:1", lease_until=now - timedelta(seconds=1))
        )
        return admitted.job.id

    message_id = await runtime.db.write(crashed)
    runtime.delivery.sender._next_recovery = 0.0
    runtime.delivery.nudge()

    async def sent() -> bool:
        return [m["status"] for m in await messages(admin_api)] == ["sent"]

    await eventually(sent)
    [message] = await messages(admin_api)
    assert message["id"] == message_id
    assert [(a["gateway"], a["outcome"]) for a in message["attempt_log"]] == [
        ("first", "unknown"),
        ("second", "accepted"),
    ]
    assert [r.path for r in http_sink.requests] == ["/second"]
    # In the order they were begun: PostgreSQL returns an updated row wherever it now lies.
    by_start = select(DeliveryAttempt).order_by(DeliveryAttempt.id)
    attempts = await runtime.db.read(lambda tx: tx.execute(by_start).scalars().all())
    assert "lease expired" in attempts[0].error


async def test_a_rejected_number_stops_and_no_other_gateway_is_tried(admin_api, http_sink):
    async with ModemEmulator(cms_errors=[1]) as modem:  # 1: unassigned (unallocated) number
        await admin_api.post(
            "/smsgateway",
            {
                "name": "modem",
                "module": "providers.gsm_modem.GsmModemProvider",
                "option.PORT": modem.path,
                "option.TIMEOUT": "3",
            },
        )
        await http_gateway(admin_api, "live", http_sink.url + "/send")
        body = {"gateways": ["modem", "live"], "phone": PHONE, "message": "x"}
        error = await admin_api.post_error("/sms/send", body, status=502)
    assert "cms_1" in error["message"]
    [message] = await messages(admin_api)
    assert message["status"] == "failed"
    assert [(a["gateway"], a["outcome"]) for a in message["attempt_log"]] == [
        ("modem", "permanent")
    ]
    assert http_sink.requests == []


async def test_a_message_whose_gateway_was_deleted_fails_over_with_a_clear_error(
    admin_api, http_sink
):
    await http_gateway(admin_api, "gone", http_sink.url + "/gone")
    await http_gateway(admin_api, "live", http_sink.url + "/live")
    runtime = admin_api.client._transport.app.state.runtime
    now = utcnow()

    def queue(tx):
        return intake.admit(
            tx,
            runtime.delivery,
            route=["gone", "live"],
            message=intake.Sealed.of(runtime.box, PHONE, "still wanted"),
            deadline=now + timedelta(minutes=5),
            inline=True,
            now=now,
            source="api",
        )

    admitted = await runtime.db.write(queue)
    await admin_api.delete("/smsgateway/gone")
    result = await intake.settle(
        runtime, admitted, delivery_config.DeliveryConfig(), "still wanted"
    )
    assert result.status == "sent"
    [message] = await messages(admin_api)
    first, second = message["attempt_log"]
    assert first["gateway"] == "gone" and "does not exist" in first["error"]
    assert second["outcome"] == "accepted"
    assert [r.path for r in http_sink.requests] == ["/live"]
