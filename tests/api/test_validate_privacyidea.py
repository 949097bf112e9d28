"""The details of /validate answers that privacyIDEA's own clients read."""

from __future__ import annotations

import pytest

from tests.api.sms_login import check, enrol, gateway_to_sink, last_otp


@pytest.fixture
async def alice(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    return await enrol(admin_api)


async def test_a_challenge_has_a_null_state_beside_valid_until_and_envelope_id_2(
    admin_api, http_sink, alice
):
    answer = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert answer["id"] == 2
    attributes = answer["detail"]["attributes"]
    assert attributes["state"] is None and "valid_until" in attributes
    [challenge] = answer["detail"]["multi_challenge"]
    assert challenge["attributes"] == attributes


async def test_every_validate_answer_is_numbered_2(admin_api, http_sink, alice):
    reject = await check(admin_api, user="alice", realm="corp", **{"pass": "wrong"})
    assert reject["id"] == 2
    triggered = await admin_api.call("POST", "/validate/triggerchallenge", json={"serial": alice})
    assert triggered["id"] == 2


async def test_a_gateway_failure_answers_an_empty_transaction_ids_and_no_transaction_id(
    admin_api, http_sink, alice
):
    http_sink.status = 500
    answer = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert answer["result"]["authentication"] == "REJECT"
    assert answer["detail"]["transaction_ids"] == []
    assert "transaction_id" not in answer["detail"]


async def test_a_reused_otp_is_named_as_privacyidea_names_it(admin_api, http_sink, alice):
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    otp = last_otp(http_sink)
    accepted = await check(admin_api, user="alice", realm="corp", **{"pass": "1234" + otp})
    assert accepted["result"]["authentication"] == "ACCEPT"
    again = await check(admin_api, user="alice", realm="corp", **{"pass": "1234" + otp})
    assert again["result"]["authentication"] == "REJECT"
    assert again["detail"]["message"] == "wrong otp value. previous otp used again"


async def test_a_wrong_otp_is_only_a_wrong_otp(admin_api, http_sink, alice):
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    otp = last_otp(http_sink)
    wrong = "000000" if otp != "000000" else "111111"
    answer = await check(admin_api, user="alice", realm="corp", **{"pass": "1234" + wrong})
    assert answer["detail"]["message"] == "wrong otp value"


async def test_the_otp_may_come_as_a_json_number(admin_api, http_sink, alice):
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": 1234})
    transaction_id = challenge["detail"]["transaction_id"]
    otp = last_otp(http_sink)
    if otp.startswith("0"):
        pytest.skip("a leading zero is not a JSON number; privacyIDEA sends it as text")
    answer = await check(
        admin_api,
        user="alice",
        realm="corp",
        transaction_id=transaction_id,
        **{"pass": int(otp)},
    )
    assert answer["result"]["authentication"] == "ACCEPT"
