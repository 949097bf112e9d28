"""Counting is race-free: the database counts, not process memory."""

from __future__ import annotations

import asyncio

from tests.api.sms_login import check, enrol, gateway_to_sink, last_otp
from tests.waiting import eventually


async def test_fifty_concurrent_wrong_otps_count_fifty(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=100)
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    otp = last_otp(http_sink)
    wrong = "000000" if otp != "000000" else "111111"
    body = {
        "user": "alice",
        "realm": "corp",
        "transaction_id": challenge["detail"]["transaction_id"],
    }
    answers = await asyncio.gather(
        *(check(admin_api, **body, **{"pass": wrong}) for _ in range(50))
    )
    assert {a["result"]["authentication"] for a in answers} == {"REJECT"}
    [token] = (await admin_api.value("/token/", params={"serial": serial}))["tokens"]
    assert token["failcount"] == 50


async def test_fifty_concurrent_right_answers_accept_exactly_once(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    body = {
        "user": "alice",
        "realm": "corp",
        "transaction_id": challenge["detail"]["transaction_id"],
        "pass": last_otp(http_sink),
    }
    answers = await asyncio.gather(*(check(admin_api, **body) for _ in range(50)))
    assert sum(a["result"]["value"] is True for a in answers) == 1


async def test_challenges_for_many_users_run_side_by_side(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post(
        "/smsgateway",
        {
            "name": "sms-gw",
            "module": "providers.http.HttpProvider",
            "option.URL": http_sink.url + "/send",
            "option.HTTP_METHOD": "POST",
            "option.to": "{phone}",
            "option.text": "{otp}",
            "option.TIMEOUT": "60",
        },
    )
    users = [f"user{n}" for n in range(20)]
    for user in users:
        await enrol(admin_api, user=user)
    http_sink.gate = asyncio.Event()
    logins = asyncio.gather(
        *(check(admin_api, user=user, realm="corp", **{"pass": "1234"}) for user in users)
    )
    # One user's SMS never waits for another's: all twenty are at the gateway at once.
    await eventually(lambda: http_sink.in_flight == 20)
    http_sink.gate.set()
    answers = await logins
    assert {a["result"]["authentication"] for a in answers} == {"CHALLENGE"}
    assert len(http_sink.requests) == 20
