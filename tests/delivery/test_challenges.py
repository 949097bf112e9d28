"""Logins through the outbox: the challenge's SMS fails over, goes out async on request,
and its OTP is never stored."""

from __future__ import annotations

from sqlalchemy import select

from app.db.tables import Challenge, MessageLog
from tests.api.sms_login import check, enrol, last_otp
from tests.delivery.helpers import fast_retries, http_gateway, messages, refusing_url
from tests.waiting import eventually_async as eventually

SMS_FAILED = "The PIN was correct, but the SMS could not be sent!"


async def _route(api, sink, identifier: str) -> None:
    await http_gateway(api, "dead", refusing_url())
    await http_gateway(api, "live", sink.url + "/send")
    await api.post("/system/setConfig", {"sms.identifier": identifier})


async def test_a_login_succeeds_when_the_first_gateway_refuses_connections(admin_api, http_sink):
    await _route(admin_api, http_sink, "dead,live")
    await enrol(admin_api)
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert challenge["result"]["authentication"] == "CHALLENGE"
    transaction_id = challenge["detail"]["transaction_id"]
    [message] = await messages(admin_api, transaction_id=transaction_id)
    assert message["status"] == "sent" and message["source"] == "challenge"
    assert [a["gateway"] for a in message["attempt_log"]] == ["dead", "live"]
    body = {"user": "alice", "realm": "corp", "transaction_id": transaction_id}
    accepted = await check(admin_api, **body, **{"pass": last_otp(http_sink)})
    assert accepted["result"]["authentication"] == "ACCEPT"


async def test_when_every_gateway_fails_the_login_is_rejected_and_the_challenge_closed(
    admin_api, http_sink
):
    await fast_retries(admin_api)
    await http_gateway(admin_api, "dead", refusing_url())
    await admin_api.post("/system/setConfig", {"sms.identifier": "dead"})
    await enrol(admin_api)
    answer = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert answer["result"]["authentication"] == "REJECT"
    assert answer["detail"]["message"] == SMS_FAILED
    assert "transaction_id" not in answer["detail"]
    runtime = admin_api.client._transport.app.state.runtime
    challenges = await runtime.db.read(lambda tx: tx.execute(select(Challenge)).scalars().all())
    assert [c.answered for c in challenges] == [True]
    [message] = await messages(admin_api)
    assert message["status"] == "failed"


async def test_with_sms_async_the_challenge_is_answered_first_and_the_sms_follows(
    admin_api, http_sink
):
    await _route(admin_api, http_sink, "live")
    await admin_api.post("/system/setConfig", {"sms.async": True})
    await enrol(admin_api)
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert challenge["result"]["authentication"] == "CHALLENGE"
    transaction_id = challenge["detail"]["transaction_id"]

    async def arrived() -> bool:
        return len(http_sink.requests) == 1

    await eventually(arrived)
    body = {"user": "alice", "realm": "corp", "transaction_id": transaction_id}
    accepted = await check(admin_api, **body, **{"pass": last_otp(http_sink)})
    assert accepted["result"]["authentication"] == "ACCEPT"
    [message] = await messages(admin_api, transaction_id=transaction_id)
    assert message["status"] == "sent"


async def test_the_otp_is_never_stored(admin_api, http_sink):
    await _route(admin_api, http_sink, "live")
    await admin_api.post("/system/setConfig", {"sms.async": True})
    await enrol(admin_api)
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    runtime = admin_api.client._transport.app.state.runtime

    async def arrived() -> bool:
        return len(http_sink.requests) == 1

    await eventually(arrived)
    otp = last_otp(http_sink)
    [row] = await runtime.db.read(lambda tx: tx.execute(select(MessageLog)).scalars().all())
    assert otp not in " ".join(str(v) for v in row.model_dump().values())
    assert row.body == "" and row.challenge_id is not None


async def test_an_async_challenge_answered_before_its_sms_went_out_is_not_sent(
    admin_api, http_sink
):
    await _route(admin_api, http_sink, "dead")
    await admin_api.post("/system/setConfig", {"sms.async": True, "sms.backoff": 5})
    await enrol(admin_api)
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})

    async def waiting() -> bool:
        found = await messages(admin_api)
        return bool(found) and found[0]["status"] == "queued" and found[0]["attempts"] >= 1

    await eventually(waiting)
    runtime = admin_api.client._transport.app.state.runtime

    def change(tx):
        for row in tx.execute(select(Challenge)).scalars():
            row.answered = True

    await runtime.db.write(change)
    await http_gateway(admin_api, "dead", http_sink.url + "/send")  # the gateway comes back

    def change(tx):
        for message in tx.execute(select(MessageLog)).scalars():
            message.not_before = message.created_at

    await runtime.db.write(change)
    runtime.delivery.nudge()

    async def failed() -> bool:
        return [m["status"] for m in await messages(admin_api)] == ["failed"]

    await eventually(failed)
    assert http_sink.requests == []


async def test_a_queued_challenge_sms_never_borrows_another_challenges_otp(admin_api, http_sink):
    # SQLite gives a deleted challenge's id to the next one: the message must notice.
    await _route(admin_api, http_sink, "dead")
    await admin_api.post("/system/setConfig", {"sms.async": True, "sms.backoff": 5})
    await enrol(admin_api)
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})

    async def waiting() -> bool:
        found = await messages(admin_api)
        return bool(found) and found[0]["status"] == "queued" and found[0]["attempts"] >= 1

    await eventually(waiting)
    runtime = admin_api.client._transport.app.state.runtime

    def change(tx):
        for row in tx.execute(select(Challenge)).scalars():
            row.transaction_id = "99999999999999999999"  # now someone else's challenge

    await runtime.db.write(change)
    await http_gateway(admin_api, "dead", http_sink.url + "/send")

    def change(tx):
        for message in tx.execute(select(MessageLog)).scalars():
            message.not_before = message.created_at

    await runtime.db.write(change)
    runtime.delivery.nudge()

    async def failed() -> bool:
        return [m["status"] for m in await messages(admin_api)] == ["failed"]

    await eventually(failed)
    assert http_sink.requests == []
