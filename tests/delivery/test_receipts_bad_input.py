"""Bad delivery reports and the report token: a clear 4xx naming the problem, never a 500,
never a changed message."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from app.db.tables import DeliveryReport
from tests.delivery.helpers import http_gateway, messages
from tests.delivery.receipts_helpers import IdSink, reporting_gateway, send, stored


@pytest_asyncio.fixture(loop_scope="session")
async def id_sink() -> AsyncIterator[IdSink]:
    sink = await IdSink().start()
    yield sink
    await sink.stop()


async def _reports(runtime: Any) -> list[tuple[str, str, int | None]]:
    def read(tx: Any) -> list[tuple[str, str, int | None]]:
        rows = tx.execute(select(DeliveryReport)).scalars()
        return sorted((r.provider_id, r.state, r.message_id) for r in rows)

    result: list[tuple[str, str, int | None]] = await runtime.db.read(read)
    return result


def _error(reply: Any, status: int) -> str:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["result"]["status"] is False
    message: str = body["result"]["error"]["message"]
    return message


@pytest.mark.parametrize(
    ("fields", "status", "named"),
    [
        ({"id": "m9", "status": "DELIVRD"}, 404, "'m9'"),  # no message has the id
        ({"id": "m1", "status": "weird"}, 400, "status 'weird' is not in"),
        ({"status": "DELIVRD"}, 400, "id: the message id field is missing"),
        ({"id": "m1"}, 400, "status: the status field is missing"),
        ({"id": ["m1", "m2"], "status": "DELIVRD"}, 400, "id: the message id field is given more"),
        ({"id": {"deep": 1}, "status": "DELIVRD"}, 400, "id: the message id field is missing"),
    ],
)
async def test_a_report_the_gateway_options_cannot_read_is_a_4xx_naming_it(
    admin_api, runtime, id_sink, fields, status, named
):
    path = await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    before = await _reports(runtime)
    message = _error(await admin_api.client.post(path, json=fields), status)
    assert named in message
    assert (await stored(admin_api, record["id"]))["status"] == "sent"
    assert await _reports(runtime) == before


@pytest.mark.parametrize(
    ("content", "content_type", "status", "named"),
    [
        (b"{not json", "application/json", 400, "body: not valid JSON"),
        (b'["m1", "DELIVRD"]', "application/json", 400, "body: not a JSON object"),
        (b"\xff\xfe", "application/json", 400, "body: not valid JSON"),
        (b"id=m1&status=DELIVRD", "text/plain", 415, "Unsupported content type"),
        (
            json.dumps({"id": "m1", "status": "DELIVRD", "pad": "x" * 17_000}).encode(),
            "application/json",
            413,
            "at most 16384 bytes",
        ),
    ],
)
async def test_a_malformed_or_oversized_body_is_a_4xx_and_changes_nothing(
    admin_api, runtime, id_sink, content, content_type, status, named
):
    path = await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    before = await _reports(runtime)
    reply = await admin_api.client.post(
        path, content=content, headers={"Content-Type": content_type}
    )
    assert named in _error(reply, status)
    assert (await stored(admin_api, record["id"]))["status"] == "sent"
    assert await _reports(runtime) == before


async def test_a_wrong_token_or_unknown_gateway_is_a_401_that_tells_nothing_more(
    admin_api, runtime, id_sink
):
    path = await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    before = await _reports(runtime)
    wrong = path.rsplit("/", 1)[0] + "/not-the-token"
    assert "wrong token for gateway 'dlr'" in _error(
        await admin_api.client.post(wrong, json={"id": "m1", "status": "DELIVRD"}), 401
    )
    nowhere = "/sms/dlr/nosuch/" + path.rsplit("/", 1)[1]
    assert "wrong token for gateway 'nosuch'" in _error(await admin_api.client.get(nowhere), 401)
    assert (await stored(admin_api, record["id"]))["status"] == "sent"
    assert await _reports(runtime) == before


async def test_a_gateway_without_a_token_takes_no_reports(admin_api, id_sink):
    await http_gateway(admin_api, "plain", id_sink.url + "/send", MESSAGE_ID_FIELD="message_id")
    await send(admin_api, "plain")
    reply = await admin_api.client.get("/sms/dlr/plain/anything?id=m1&status=DELIVRD")
    _error(reply, 401)
    assert (await messages(admin_api))[0]["status"] == "sent"


async def test_a_rotated_token_replaces_the_old_one_and_is_never_shown_again(admin_api, id_sink):
    old = await reporting_gateway(admin_api, id_sink)
    record = await send(admin_api)
    new = (await admin_api.post("/sms/gateways/dlr/dlr-token", {}))["path"]
    assert new != old
    _error(await admin_api.client.post(old, json={"id": "m1", "status": "DELIVRD"}), 401)
    listed = json.dumps(await admin_api.value("/smsgateway/"))
    assert new.rsplit("/", 1)[1] not in listed and old.rsplit("/", 1)[1] not in listed
    reply = await admin_api.client.post(new, json={"id": "m1", "status": "DELIVRD"})
    assert reply.status_code == 200, reply.text
    assert (await stored(admin_api, record["id"]))["status"] == "delivered"


async def test_a_token_only_for_an_existing_http_gateway(admin_api):
    error = await admin_api.post_error("/sms/gateways/nosuch/dlr-token", {}, status=404)
    assert "'nosuch'" in error["message"]
    await admin_api.post(
        "/smsgateway",
        {
            "name": "mail",
            "module": "providers.smtp.SmtpProvider",
            "option.SMTP_SERVER": "127.0.0.1",
            "option.SENDER": "sms@example.org",
            "option.MAILTO": "{phone}@sms.example",
        },
    )
    error = await admin_api.post_error("/sms/gateways/mail/dlr-token", {}, status=409)
    assert "not an HTTP gateway" in error["message"]


async def test_rotating_a_token_takes_the_dlrtoken_write_action(admin_api, anonymous_api, id_sink):
    await http_gateway(admin_api, "dlr", id_sink.url + "/send")
    key = (await admin_api.post("/apikey", {"name": "ops", "actions": ["messagelist"]}))["key"]
    reply = await anonymous_api.client.post(
        "/sms/gateways/dlr/dlr-token", headers={"Authorization": f"Bearer {key}"}
    )
    assert reply.status_code == 403 and "dlrtoken_write" in reply.text
    key = (await admin_api.post("/apikey", {"name": "rot", "actions": ["dlrtoken_write"]}))["key"]
    reply = await anonymous_api.client.post(
        "/sms/gateways/dlr/dlr-token", headers={"Authorization": f"Bearer {key}"}
    )
    assert reply.status_code == 200, reply.text


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("MESSAGE_ID_FIELD", "/no group/", "exactly one group"),
        ("MESSAGE_ID_FIELD", "/(unclosed/", "does not compile"),
        ("DLR_STATUS_MAP", "0=delivered,1=gone", "1=gone"),
        ("DLR_STATUS_MAP", "nonsense", "is not status=state"),
        ("DLR_STATUS_MAP", '{"0": "lost"', "not a JSON object"),
    ],
)
async def test_bad_report_options_are_named_and_nothing_is_stored(admin_api, key, value, named):
    body = {
        "name": "dlr",
        "module": "providers.http.HttpProvider",
        "option.URL": "http://127.0.0.1:9/send",
        f"option.{key}": value,
    }
    error = await admin_api.post_error("/smsgateway", body, status=400)
    assert key in error["message"] and named in error["message"]
    assert await admin_api.value("/smsgateway/") == []
