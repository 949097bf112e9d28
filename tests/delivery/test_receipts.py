"""Delivery reports from an HTTP gateway: the local HTTP sink answers each send with an id,
a local HTTP client posts the gateway's reports to /sms/dlr/{gateway}/{token}."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest_asyncio
from sqlalchemy import Engine, event

from app.db.tables import utcnow
from app.delivery import receipts
from tests.delivery.helpers import http_gateway, messages
from tests.delivery.receipts_helpers import IdSink, report, reporting_gateway, send, stored
from tests.waiting import eventually


@pytest_asyncio.fixture(loop_scope="session")
async def id_sink() -> AsyncIterator[IdSink]:
    sink = await IdSink().start()
    yield sink
    await sink.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def parts_sink() -> AsyncIterator[IdSink]:
    sink = await IdSink(parts=2).start()
    yield sink
    await sink.stop()


async def test_the_submit_answer_gives_the_message_its_gateway_id(admin_api, id_sink):
    await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    assert record["status"] == "sent" and record["provider_ids"] == ["m1"]
    assert record["reported_at"] is None
    assert (await stored(admin_api, record["id"]))["provider_ids"] == ["m1"]


async def test_a_delivered_report_makes_the_message_delivered_with_the_report_time(
    admin_api, id_sink
):
    path = await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    reply = await report(admin_api, path, id="m1", status="DELIVRD")
    assert reply.status_code == 200, reply.text
    assert reply.json()["result"]["value"] == {
        "gateway": "dlr",
        "provider_id": "m1",
        "state": "delivered",
        "outcome": "applied",
    }
    [listed] = await messages(admin_api, status="delivered")
    assert listed["id"] == record["id"] and listed["reported_at"] is not None
    assert await messages(admin_api, status="sent") == []


async def test_an_undeliverable_report_by_get_with_the_gateways_own_fields_and_words(
    admin_api, id_sink
):
    path = await reporting_gateway(
        admin_api,
        id_sink,
        DLR_ID_FIELD="msgid",
        DLR_STATUS_FIELD="stat",
        DLR_ERROR_FIELD="err",
        DLR_STATUS_MAP="0=delivered,5=undeliverable,1=enroute",
    )
    record = await send(admin_api)
    reply = await admin_api.client.get(path, params={"msgid": "m1", "stat": "5", "err": "34"})
    assert reply.status_code == 200, reply.text
    [listed] = await messages(admin_api, status="undeliverable")
    assert listed["id"] == record["id"]


async def test_a_form_report_is_read_as_well(admin_api, id_sink):
    path = await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    reply = await admin_api.client.post(path, data={"id": "m1", "status": "delivered"})
    assert reply.status_code == 200, reply.text
    assert (await stored(admin_api, record["id"]))["status"] == "delivered"


async def test_a_duplicate_report_changes_nothing(admin_api, id_sink):
    path = await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    await report(admin_api, path, id="m1", status="DELIVRD")
    first = await stored(admin_api, record["id"])
    again = await report(admin_api, path, id="m1", status="DELIVRD")
    assert again.status_code == 200 and again.json()["result"]["value"]["outcome"] == "duplicate"
    assert await stored(admin_api, record["id"]) == first


async def test_a_final_state_is_never_overwritten_by_a_late_earlier_one(admin_api, id_sink):
    path = await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    assert (await report(admin_api, path, id="m1", status="undeliverable")).status_code == 200
    late = await report(admin_api, path, id="m1", status="ENROUTE")
    assert late.json()["result"]["value"]["outcome"] == "duplicate"
    other = await report(admin_api, path, id="m1", status="delivered")
    assert other.json()["result"]["value"]["outcome"] == "duplicate"
    assert (await stored(admin_api, record["id"]))["status"] == "undeliverable"


async def test_states_move_forward_accepted_enroute_then_final(admin_api, id_sink):
    path = await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    for status in ("ACCEPTD", "ENROUTE"):
        reply = await report(admin_api, path, id="m1", status=status)
        assert reply.json()["result"]["value"]["outcome"] == "applied"
        assert (await stored(admin_api, record["id"]))["status"] == "sent"
    await report(admin_api, path, id="m1", status="DELIVRD")
    assert (await stored(admin_api, record["id"]))["status"] == "delivered"


async def test_a_report_before_the_submit_answer_is_committed_is_kept_and_applied(
    admin_api, id_sink
):
    path = await reporting_gateway(admin_api, id_sink)
    id_sink.gate = asyncio.Event()  # the gateway holds its answer: the message is sending
    sending = asyncio.create_task(send(admin_api))
    try:
        await eventually(lambda: id_sink.in_flight == 1)
        [pending] = await messages(admin_api, status="sending")
        early = await report(admin_api, path, id="m1", status="DELIVRD")
        assert early.status_code == 200, early.text
        assert early.json()["result"]["value"]["outcome"] == "kept"
        assert (await stored(admin_api, pending["id"]))["status"] == "sending"
    finally:
        id_sink.gate.set()
    record = await sending
    assert record["id"] == pending["id"]
    message = await stored(admin_api, record["id"])
    assert message["status"] == "delivered" and message["reported_at"] is not None


async def test_a_long_message_is_delivered_only_when_every_part_is(admin_api, parts_sink):
    path = await reporting_gateway(admin_api, parts_sink, MESSAGE_ID_FIELD="messages.id")
    record = await send(admin_api)
    assert record["provider_ids"] == ["m1.0", "m1.1"] and record["parts"] == 2
    await report(admin_api, path, id="m1.0", status="DELIVRD")
    assert (await stored(admin_api, record["id"]))["status"] == "sent"
    await report(admin_api, path, id="m1.1", status="DELIVRD")
    assert (await stored(admin_api, record["id"]))["status"] == "delivered"


async def test_a_long_message_is_undeliverable_when_any_part_is(admin_api, parts_sink):
    path = await reporting_gateway(admin_api, parts_sink, MESSAGE_ID_FIELD="messages.id")
    record = await send(admin_api)
    await report(admin_api, path, id="m1.1", status="UNDELIV")
    assert (await stored(admin_api, record["id"]))["status"] == "undeliverable"
    await report(admin_api, path, id="m1.0", status="DELIVRD")
    assert (await stored(admin_api, record["id"]))["status"] == "undeliverable"


async def test_parts_final_but_neither_all_delivered_nor_undeliverable_make_it_unknown(
    admin_api, parts_sink
):
    path = await reporting_gateway(admin_api, parts_sink, MESSAGE_ID_FIELD="messages.id")
    record = await send(admin_api)
    await report(admin_api, path, id="m1.0", status="DELIVRD")
    await report(admin_api, path, id="m1.1", status="UNKNOWN")
    assert (await stored(admin_api, record["id"]))["status"] == "unknown"


async def test_a_sent_message_without_a_final_report_in_time_becomes_unknown(
    admin_api, runtime, id_sink, http_sink
):
    path = await reporting_gateway(admin_api, id_sink)
    await http_gateway(admin_api, "silent", http_sink.url + "/send")  # reports nothing
    waiting = await send(admin_api)
    delivered = await send(admin_api)
    await report(admin_api, path, id="m2", status="DELIVRD")
    plain = await send(admin_api, "silent")
    assert await receipts.sweep(runtime) == 0  # not due yet
    assert await receipts.sweep(runtime, now=utcnow() + timedelta(days=2)) == 1
    assert (await stored(admin_api, waiting["id"]))["status"] == "unknown"
    assert (await stored(admin_api, delivered["id"]))["status"] == "delivered"
    assert (await stored(admin_api, plain["id"]))["status"] == "sent"
    assert [m["id"] for m in await messages(admin_api, status="unknown")] == [waiting["id"]]


async def test_the_report_timeout_is_a_validated_setting(admin_api, id_sink, runtime):
    error = await admin_api.post_error("/system/setConfig", {"sms.dlr_timeout": 5}, status=400)
    assert "sms.dlr_timeout" in error["message"]
    await admin_api.post("/system/setConfig", {"sms.dlr_timeout": 3600})
    await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    assert await receipts.sweep(runtime, now=utcnow() + timedelta(seconds=1800)) == 0
    assert await receipts.sweep(runtime, now=utcnow() + timedelta(seconds=3700)) == 1
    assert (await stored(admin_api, record["id"]))["status"] == "unknown"


async def test_gateway_health_shows_the_delivered_ratio_of_reports(admin_api, id_sink):
    path = await reporting_gateway(admin_api, id_sink)
    await send(admin_api)
    await send(admin_api)
    await report(admin_api, path, id="m1", status="DELIVRD")
    await report(admin_api, path, id="m2", status="UNDELIV")
    health = {g["gateway"]: g for g in await admin_api.value("/sms/gateways/health")}
    assert health["dlr"]["dlr_delivered_ratio"] == 0.5


async def test_reports_are_counted_by_gateway_and_state(admin_api, anonymous_api, id_sink):
    path = await reporting_gateway(admin_api, id_sink)
    await send(admin_api)
    await report(admin_api, path, id="m1", status="DELIVRD")
    await report(admin_api, path, id="nope", status="DELIVRD")
    scrape = (await anonymous_api.client.get("/metrics")).text
    assert 'smsgw_dlr_total{gateway="dlr",state="delivered"}' in scrape
    assert 'smsgw_dlr_rejected_total{gateway="dlr",reason="unknown_id"}' in scrape


class Statements:
    """The SQL statements every engine of the process runs while counting."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.seen.append(" ".join(statement.split()))

    def touching(self, table: str) -> list[str]:
        return [s for s in self.seen if table in s and not s.startswith(("BEGIN", "COMMIT"))]


@contextmanager
def counted() -> Iterator[Statements]:
    statements = Statements()
    event.listen(Engine, "before_cursor_execute", statements)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", statements)


async def test_a_send_through_a_gateway_that_does_not_report_costs_no_extra_statement(
    admin_api, id_sink
):
    await http_gateway(admin_api, "plain", id_sink.url + "/send", MESSAGE_ID_FIELD="message_id")
    await reporting_gateway(admin_api, id_sink)
    await send(admin_api, "plain")  # the gateway's definition is cached from here on
    await send(admin_api, "dlr")
    with counted() as plain:
        await send(admin_api, "plain")
    with counted() as reporting:
        await send(admin_api, "dlr")
    assert plain.touching("delivery_report") == []
    assert len(reporting.touching("delivery_report")) == 1  # the ids, with the attempt's result
    # report_due rides on the UPDATE that finishes the message, whichever the gateway.
    finishing = [s for s in plain.touching("UPDATE message") if "report_due" in s]
    assert len(finishing) == 1


async def test_a_receipt_costs_one_statement_and_a_final_one_three(admin_api, id_sink):
    path = await reporting_gateway(admin_api, id_sink)
    await send(admin_api)
    with counted() as enroute:
        await report(admin_api, path, id="m1", status="ENROUTE")
    with counted() as final:
        await report(admin_api, path, id="m1", status="DELIVRD")
    # Beyond reading the gateway's definition (cached) and BEGIN/COMMIT: the report's
    # conditional UPDATE; for a final state also the message locked with its parts, and its
    # UPDATE.
    assert len(enroute.touching("delivery_report")) == 1
    assert len(final.touching("delivery_report")) == 2
    assert len([s for s in final.touching("UPDATE message") if "reported_at" in s]) == 1


async def test_an_id_the_gateway_reuses_starts_afresh_for_the_new_message(admin_api, id_sink):
    path = await reporting_gateway(admin_api, id_sink)
    first = await send(admin_api)
    await report(admin_api, path, id="m1", status="DELIVRD")
    id_sink.count = 0  # the gateway's counter starts over: the next answer is m1 again
    second = await send(admin_api)
    assert second["provider_ids"] == ["m1"]
    assert (await stored(admin_api, second["id"]))["status"] == "sent"
    await report(admin_api, path, id="m1", status="UNDELIV")
    assert (await stored(admin_api, second["id"]))["status"] == "undeliverable"
    assert (await stored(admin_api, first["id"]))["status"] == "delivered"
