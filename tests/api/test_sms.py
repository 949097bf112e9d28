"""POST /sms/send and the message log."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from app.db.tables import MessageLog
from tests.waiting import eventually


async def make_gateway(api, sink, name: str = "gw1", **options: str) -> int:
    body = {
        "name": name,
        "module": "providers.http.HttpProvider",
        "option.URL": sink.url + "/send",
        "option.HTTP_METHOD": "POST",
        "option.to": "{phone}",
        "option.text": "{otp}",
        **{f"option.{k}": v for k, v in options.items()},
    }
    return int(await admin_post(api, "/smsgateway", body))


async def admin_post(api, path, body, form=False):
    return await api.post(path, body, form=form)


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
async def test_send_reaches_the_gateway_and_answers_the_log_record(admin_api, http_sink, form):
    await make_gateway(admin_api, http_sink)
    record = await admin_api.post(
        "/sms/send", {"gateway": "gw1", "phone": "+49 170 1234567", "message": "Hello"}, form=form
    )
    assert http_sink.last.body == b"to=%2B491701234567&text=Hello"
    assert record["status"] == "sent" and record["gateway"] == "gw1"
    assert record["phone"] == "+491*******67"
    assert record["parts"] == 1 and record["attempts"] == 1 and record["latency_ms"] > 0


async def test_a_failed_send_is_a_502_naming_the_gateway_and_a_failed_row(admin_api, http_sink):
    await make_gateway(admin_api, http_sink)
    http_sink.status, http_sink.reply = 500, "down for maintenance"
    error = await admin_api.post_error(
        "/sms/send", {"gateway": "gw1", "phone": "+491701234567", "message": "x"}, status=502
    )
    assert "gw1" in error["message"] and "500" in error["message"]
    page = await admin_api.value("/sms/messages")
    assert [m["status"] for m in page["messages"]] == ["failed"]
    assert "down for maintenance" in page["messages"][0]["error"]


async def test_unknown_gateway_is_404(admin_api):
    await admin_api.post_error(
        "/sms/send",
        {"gateway": "nope", "phone": "+491701234567", "message": "x"},
        status=404,
        code=601,
    )


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"gateway": "gw1", "phone": "0170 1234567", "message": "x"}, "phone"),
        ({"gateway": "gw1", "phone": "+49abc", "message": "x"}, "phone"),
        ({"gateway": "gw1", "phone": "+1234", "message": "x"}, "phone"),
        ({"gateway": "gw1", "phone": "+491701234567", "message": ""}, "message"),
        ({"gateway": "gw1", "phone": "+491701234567", "message": "x" * 1601}, "message"),
        ({"gateway": "gw1", "phone": "+491701234567"}, "message"),
        ({"phone": "+491701234567", "message": "x"}, "gateway"),
    ],
)
async def test_bad_input_is_a_400_and_nothing_is_sent(admin_api, http_sink, body, named):
    await make_gateway(admin_api, http_sink)
    error = await admin_api.post_error("/sms/send", body, status=400, code=905)
    assert named in error["message"]
    assert http_sink.requests == []


async def test_sms_send_needs_its_policy_action(admin_api, http_sink):
    await make_gateway(admin_api, http_sink)
    await admin_api.post("/policy/ro", {"scope": "admin", "action": "smsgateway_read"})
    await admin_api.post_error(
        "/sms/send",
        {"gateway": "gw1", "phone": "+491701234567", "message": "x"},
        status=403,
        code=303,
    )
    assert http_sink.requests == []


async def test_the_log_never_holds_the_message_text(admin_api, http_sink, runtime):
    await make_gateway(admin_api, http_sink)
    await admin_api.post(
        "/sms/send", {"gateway": "gw1", "phone": "+491701234567", "message": "canary-774411"}
    )
    rows = await runtime.db.read(lambda tx: tx.execute(select(MessageLog)).scalars().all())
    assert len(rows) == 1
    assert "canary-774411" not in repr(rows[0].model_dump())
    assert "1701234" not in rows[0].phone


async def test_the_log_pages_and_filters(admin_api, http_sink):
    await make_gateway(admin_api, http_sink, "a")
    await make_gateway(admin_api, http_sink, "b")
    for gateway in ("a", "a", "b"):
        await admin_api.post(
            "/sms/send", {"gateway": gateway, "phone": "+491701234567", "message": "x"}
        )
    http_sink.status = 500
    await admin_api.post_error(
        "/sms/send", {"gateway": "b", "phone": "+491701234567", "message": "x"}, status=502
    )
    page = await admin_api.value("/sms/messages", params={"pagesize": 2})
    assert page["count"] == 4 and len(page["messages"]) == 2 and page["next"] == 2
    assert page["messages"][0]["id"] > page["messages"][1]["id"]
    second = await admin_api.value("/sms/messages", params={"pagesize": 2, "page": 2})
    assert second["next"] is None and second["prev"] == 1
    only_a = await admin_api.value("/sms/messages", params={"gateway": "a"})
    assert only_a["count"] == 2
    failed = await admin_api.value("/sms/messages", params={"status": "failed"})
    assert [m["gateway"] for m in failed["messages"]] == ["b"]
    since = failed["messages"][0]["created_at"]
    assert (await admin_api.value("/sms/messages", params={"since": since}))["count"] >= 1
    future = await admin_api.value("/sms/messages", params={"since": "2999-01-01T00:00:00Z"})
    assert future["count"] == 0


async def test_bad_log_filters_are_400s(admin_api):
    await admin_api.error("GET", "/sms/messages", params={"status": "lost"}, status=400)
    await admin_api.error("GET", "/sms/messages", params={"since": "yesterday"}, status=400)
    await admin_api.error("GET", "/sms/messages", params={"pagesize": 0}, status=400)


async def test_concurrent_sends_all_arrive_and_are_all_logged(admin_api, http_sink):
    await make_gateway(admin_api, http_sink)
    http_sink.delay = 0.05
    bodies = [{"gateway": "gw1", "phone": "+491701234567", "message": f"m{i}"} for i in range(40)]
    await asyncio.gather(*(admin_api.post("/sms/send", b) for b in bodies))
    assert sorted(r.body for r in http_sink.requests) == sorted(
        f"to=%2B491701234567&text=m{i}".encode() for i in range(40)
    )
    assert (await admin_api.value("/sms/messages"))["count"] == 40


async def test_updating_or_deleting_a_gateway_while_sends_are_in_flight_does_not_crash_them(
    admin_api, http_sink
):
    await make_gateway(admin_api, http_sink)
    http_sink.gate = asyncio.Event()
    body = {"gateway": "gw1", "phone": "+491701234567", "message": "x"}
    in_flight = [asyncio.create_task(admin_api.post("/sms/send", body)) for _ in range(5)]
    await eventually(lambda: http_sink.in_flight == 5)
    await make_gateway(admin_api, http_sink, TIMEOUT="7")  # update: a new provider instance
    await admin_api.delete("/smsgateway/gw1")
    http_sink.gate.set()
    results = await asyncio.gather(*in_flight)
    assert [r["status"] for r in results] == ["sent"] * 5
    await admin_api.post_error("/sms/send", body, status=404)


def as_privacyidea_posts_json(options: dict[str, str], phone: str, otp: str) -> dict[str, object]:
    """The JSON body privacyIDEA 3.14's HTTP SMS provider posts (SEND_DATA_AS_JSON=yes):
    each extra option with {otp} and {phone} substituted, then read as JSON if it parses."""
    body: dict[str, object] = {}
    for key, template in options.items():
        text = template.replace("{otp}", otp).replace("{phone}", phone)
        try:
            body[key] = json.loads(text)
        except json.JSONDecodeError:
            body[key] = text
    return body


@pytest.mark.parametrize(
    ("otp", "posted"),
    [("645259", 645259), ("012345", "012345")],  # a leading zero is not a JSON number
    ids=["number", "leading-zero"],
)
async def test_privacyideas_http_provider_posting_json_reaches_the_phone(
    admin_api, http_sink, otp, posted
):
    await make_gateway(admin_api, http_sink)
    options = {"gateway": "gw1", "phone": "{phone}", "message": "{otp}"}
    body = as_privacyidea_posts_json(options, "+491701234567", otp)
    assert body["message"] == posted
    await admin_api.post("/sms/send", body)
    assert http_sink.last.body == f"to=%2B491701234567&text={otp}".encode()


@pytest.mark.parametrize(
    ("field", "value"),
    [("message", 1.5), ("message", True), ("message", ["1"]), ("message", {"a": 1}),
     ("phone", 491701234567), ("phone", 4.9e11), ("gateway", "g" * 256),
     ("message", 10**45)],
)  # fmt: skip
async def test_other_json_types_are_400s_naming_the_field(admin_api, http_sink, field, value):
    await make_gateway(admin_api, http_sink)
    body = {"gateway": "gw1", "phone": "+491701234567", "message": "x", field: value}
    error = await admin_api.post_error("/sms/send", body, status=400, code=905)
    assert field in error["message"]
    assert http_sink.requests == []
