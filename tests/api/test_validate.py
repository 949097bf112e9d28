"""The SMS OTP token's two-step login, as an authentication service sees it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db.tables import AuditEntry, MessageLog
from tests.api.sms_login import PHONE, check, enrol, gateway_to_sink, last_otp, sms_texts


@pytest.fixture
async def alice(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    return await enrol(admin_api)


async def test_the_pin_starts_a_challenge_and_the_otp_arrives_only_by_sms(
    admin_api, http_sink, alice
):
    answer = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert answer["result"] == {"status": True, "value": False, "authentication": "CHALLENGE"}
    detail = answer["detail"]
    transaction_id = detail["transaction_id"]
    assert len(transaction_id) == 20 and transaction_id.isdigit()
    assert detail["transaction_ids"] == [transaction_id]
    assert detail["message"] == "Enter the OTP from the SMS:"
    assert detail["multi_challenge"] == [
        {
            "serial": alice,
            "transaction_id": transaction_id,
            "type": "sms",
            "client_mode": "interactive",
            "message": "Enter the OTP from the SMS:",
            "attributes": detail["attributes"],
        }
    ]
    assert "valid_until" in detail["attributes"]
    [request] = http_sink.requests
    otp = last_otp(http_sink)
    assert len(otp) == 6 and otp.isdigit()
    assert request.body.decode().startswith("to=%2B491701234567&")
    assert otp not in str(answer)


async def test_transaction_id_and_otp_are_accepted_exactly_once(admin_api, http_sink, alice):
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    transaction_id = challenge["detail"]["transaction_id"]
    otp = last_otp(http_sink)
    body = {"user": "alice", "realm": "corp", "transaction_id": transaction_id, "pass": otp}
    accepted = await check(admin_api, **body)
    assert accepted["result"] == {"status": True, "value": True, "authentication": "ACCEPT"}
    assert accepted["detail"]["serial"] == alice
    assert accepted["detail"]["message"] == "matching 1 tokens"
    replay = await check(admin_api, **body)
    assert replay["result"]["value"] is False
    assert replay["result"]["authentication"] == "REJECT"


async def test_pin_plus_otp_is_accepted(admin_api, http_sink, alice):
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    answer = await check(
        admin_api, user="alice", realm="corp", **{"pass": "1234" + last_otp(http_sink)}
    )
    assert answer["result"]["authentication"] == "ACCEPT"


async def test_serial_works_like_user_and_realm(admin_api, http_sink, alice):
    challenge = await check(admin_api, serial=alice, **{"pass": "1234"})
    transaction_id = challenge["detail"]["transaction_id"]
    answer = await check(
        admin_api, serial=alice, transaction_id=transaction_id, **{"pass": last_otp(http_sink)}
    )
    assert answer["result"]["authentication"] == "ACCEPT"


async def test_form_bodies_work_as_privacyidea_plugins_send_them(admin_api, http_sink, alice):
    reply = await admin_api.client.post(
        "/validate/check", data={"user": "alice", "realm": "corp", "pass": "1234"}
    )
    assert reply.json()["result"]["authentication"] == "CHALLENGE"


async def test_a_wrong_otp_does_not_burn_the_challenge(admin_api, http_sink, alice):
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    transaction_id = challenge["detail"]["transaction_id"]
    otp = last_otp(http_sink)
    wrong = "000000" if otp != "000000" else "111111"
    body = {"user": "alice", "realm": "corp", "transaction_id": transaction_id}
    typo = await check(admin_api, **body, **{"pass": wrong})
    assert typo["result"]["authentication"] == "REJECT"
    assert (await check(admin_api, **body, **{"pass": otp}))["result"]["value"] is True


async def test_wrong_pin_rejects_and_sends_nothing(admin_api, http_sink, alice):
    answer = await check(admin_api, user="alice", realm="corp", **{"pass": "9999"})
    assert answer["result"] == {"status": True, "value": False, "authentication": "REJECT"}
    assert answer["detail"]["message"] == "wrong otp pin"
    assert http_sink.requests == []


async def test_a_user_without_tokens_is_rejected_like_a_wrong_pin(admin_api, alice):
    answer = await check(admin_api, user="bob", realm="corp", **{"pass": "1234"})
    assert answer["result"]["authentication"] == "REJECT"
    assert answer["detail"]["message"] == "wrong otp pin"
    unknown_realm = await check(admin_api, user="alice", realm="nowhere", **{"pass": "1234"})
    assert unknown_realm["result"]["authentication"] == "REJECT"


async def test_gateway_failure_rejects_without_transaction_and_logs_a_failed_row(
    admin_api, http_sink, alice, runtime
):
    http_sink.status = 500
    answer = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert answer["result"]["authentication"] == "REJECT"
    assert answer["detail"]["message"] == "The PIN was correct, but the SMS could not be sent!"
    assert "transaction_id" not in answer["detail"]
    [token] = (await admin_api.value("/token/", params={"serial": alice}))["tokens"]
    assert token["failcount"] == 0
    rows = await runtime.db.read(lambda tx: tx.execute(select(MessageLog)).scalars().all())
    assert [(r.status, r.source, r.serial) for r in rows] == [("failed", "challenge", alice)]


async def test_an_expired_challenge_is_refused(admin_api, http_sink, alice):
    await admin_api.post("/system/setConfig", {"sms.providerTimeout": 10})
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    from app.db.tables import Challenge

    runtime = admin_api.client._transport.app.state.runtime  # type: ignore[attr-defined]

    def expire(tx):
        for row in tx.execute(select(Challenge)).scalars():
            row.expires_at = row.created_at

    await runtime.db.write(expire)
    body = {
        "user": "alice",
        "realm": "corp",
        "transaction_id": challenge["detail"]["transaction_id"],
        "pass": last_otp(http_sink),
    }
    assert (await check(admin_api, **body))["result"]["authentication"] == "REJECT"


async def test_the_otp_of_another_token_is_refused(admin_api, http_sink, alice):
    bob = await enrol(admin_api, user="bob", pin="4321")
    await check(admin_api, user="bob", realm="corp", **{"pass": "4321"})
    bobs_otp = last_otp(http_sink)
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    answer = await check(
        admin_api,
        user="alice",
        realm="corp",
        transaction_id=challenge["detail"]["transaction_id"],
        **{"pass": bobs_otp},
    )
    if bobs_otp != last_otp(http_sink):
        assert answer["result"]["authentication"] == "REJECT"
    bob_tx = await check(admin_api, user="bob", realm="corp", **{"pass": "4321"})
    cross = await check(
        admin_api,
        user="alice",
        realm="corp",
        transaction_id=bob_tx["detail"]["transaction_id"],
        **{"pass": last_otp(http_sink)},
    )
    assert cross["result"]["authentication"] == "REJECT"
    assert bob


async def test_a_new_challenge_invalidates_the_older_one_unless_concurrent(
    admin_api, http_sink, alice
):
    first = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    first_otp = last_otp(http_sink)
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    old = await check(
        admin_api,
        user="alice",
        realm="corp",
        transaction_id=first["detail"]["transaction_id"],
        **{"pass": first_otp},
    )
    assert old["result"]["authentication"] == "REJECT"

    await admin_api.post("/system/setConfig", {"sms.concurrent_challenges": True})
    one = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    one_otp = last_otp(http_sink)
    two = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    two_otp = last_otp(http_sink)
    for challenge, otp in ((one, one_otp), (two, two_otp)):
        answer = await check(
            admin_api,
            user="alice",
            realm="corp",
            transaction_id=challenge["detail"]["transaction_id"],
            **{"pass": otp},
        )
        assert answer["result"]["authentication"] == "ACCEPT"


async def test_failures_count_and_the_token_locks_at_maxfail(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=3)
    for _ in range(3):
        await check(admin_api, user="alice", realm="corp", **{"pass": "0000"})
    [token] = (await admin_api.value("/token/", params={"serial": serial}))["tokens"]
    assert token["failcount"] == 3 and token["locked"] is True
    locked = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert locked["result"]["authentication"] == "REJECT"
    assert locked["detail"]["message"] == "wrong otp pin"  # as for a wrong PIN: no oracle
    assert http_sink.requests == []
    await admin_api.post("/token/resetfailcount", {"serial": serial})
    unlocked = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert unlocked["result"]["authentication"] == "CHALLENGE"


async def test_a_success_resets_the_fail_counter(admin_api, http_sink, alice):
    await check(admin_api, user="alice", realm="corp", **{"pass": "0000"})
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    await check(
        admin_api,
        user="alice",
        realm="corp",
        transaction_id=challenge["detail"]["transaction_id"],
        **{"pass": last_otp(http_sink)},
    )
    [token] = (await admin_api.value("/token/", params={"serial": alice}))["tokens"]
    assert token["failcount"] == 0


async def test_sms_text_from_system_config_with_tags(admin_api, http_sink, alice):
    await admin_api.post(
        "/system/setConfig", {"sms.text": "Code {otp} for {user}@{realm} ({serial}) <otp>"}
    )
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    [text] = sms_texts(http_sink)
    otp = text.split()[1]
    assert text == f"Code {otp} for alice@corp ({alice}) {otp}"


async def test_the_tokens_own_gateway_wins_over_the_system_default(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink, name="default-gw")
    await admin_api.post(
        "/smsgateway",
        {
            "name": "own-gw",
            "module": "providers.http.HttpProvider",
            "option.URL": http_sink.url + "/own",
            "option.text": "{otp}",
        },
    )
    await enrol(admin_api, **{"sms.identifier": "own-gw"})
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert http_sink.last.path == "/own"


async def test_triggerchallenge_sends_without_the_pin(admin_api, http_sink, alice):
    answer = await admin_api.call(
        "POST", "/validate/triggerchallenge", json={"user": "alice", "realm": "corp"}
    )
    assert answer["result"]["value"] == 1
    assert answer["result"]["authentication"] == "CHALLENGE"
    transaction_id = answer["detail"]["transaction_id"]
    accepted = await check(
        admin_api,
        user="alice",
        realm="corp",
        transaction_id=transaction_id,
        **{"pass": last_otp(http_sink)},
    )
    assert accepted["result"]["value"] is True


async def test_triggerchallenge_needs_an_admin_allowed_to_trigger(admin_api, alice):
    anonymous = await admin_api.client.post(
        "/validate/triggerchallenge", json={"user": "alice", "realm": "corp"}
    )
    assert anonymous.status_code == 401
    await admin_api.post("/policy/ro", {"scope": "admin", "action": "tokenlist"})
    await admin_api.post_error(
        "/validate/triggerchallenge", {"user": "alice", "realm": "corp"}, status=403, code=303
    )


async def test_logins_are_audited_without_pin_or_otp(admin_api, http_sink, alice, runtime):
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    otp = last_otp(http_sink)
    await check(
        admin_api,
        user="alice",
        realm="corp",
        transaction_id=challenge["detail"]["transaction_id"],
        **{"pass": otp},
    )
    await check(admin_api, user="alice", realm="corp", **{"pass": "9876"})
    query = select(AuditEntry).where(AuditEntry.action == "validate_check").order_by(AuditEntry.id)
    rows = await runtime.db.read(lambda tx: tx.execute(query).scalars().all())
    assert [r.target for r in rows] == ["CHALLENGE", "ACCEPT", "REJECT"]
    assert all(r.serial == alice and r.user == "alice" and r.realm == "corp" for r in rows)
    assert all(r.client_ip == "127.0.0.9" for r in rows)
    # Only the text columns: a timestamp's digits may spell anything.
    texts = [str(v) for r in rows for v in r.model_dump().values() if isinstance(v, str)]
    assert not any(secret in text for text in texts for secret in (otp, "1234", "9876"))


# --- bad input: a clean REJECT or a 400, never a 500, no SMS where none is due -----------


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"user": "alice", "realm": "corp"}, "pass"),
        ({"user": "alice", "serial": "PISM1", "pass": "1234"}, "serial"),
        ({"pass": "1234"}, "user"),
        ({"user": "alice", "realm": "corp", "pass": "1" * 10_000}, "pass"),
    ],
)
async def test_malformed_checks_are_400s(admin_api, http_sink, alice, body, named):
    reply = await admin_api.client.post("/validate/check", json=body)
    assert reply.status_code == 400
    assert named in reply.json()["result"]["error"]["message"]
    assert http_sink.requests == []


@pytest.mark.parametrize("otp", ["12345", "1234567", "12a456", "abcdef", ""])
async def test_an_otp_of_wrong_length_or_with_letters_is_rejected(admin_api, http_sink, alice, otp):
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    answer = await check(
        admin_api,
        user="alice",
        realm="corp",
        transaction_id=challenge["detail"]["transaction_id"],
        **{"pass": otp},
    )
    assert answer["result"]["authentication"] == "REJECT"


async def test_an_unknown_transaction_id_is_rejected(admin_api, http_sink, alice):
    answer = await check(
        admin_api, user="alice", realm="corp", transaction_id="1" * 20, **{"pass": "123456"}
    )
    assert answer["result"]["authentication"] == "REJECT"


async def test_a_disabled_token_neither_starts_nor_accepts(admin_api, http_sink, alice):
    challenge = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    otp = last_otp(http_sink)
    assert await admin_api.post("/token/disable", {"serial": alice}) == 1
    answer = await check(
        admin_api,
        user="alice",
        realm="corp",
        transaction_id=challenge["detail"]["transaction_id"],
        **{"pass": otp},
    )
    assert answer["result"]["authentication"] == "REJECT"
    again = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert again["result"]["authentication"] == "REJECT"
    assert len(http_sink.requests) == 1


async def test_a_token_whose_gateway_was_deleted_is_a_clean_reject(admin_api, http_sink, alice):
    await admin_api.delete("/smsgateway/sms-gw")
    answer = await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    assert answer["result"]["authentication"] == "REJECT"
    assert answer["detail"]["message"] == "The PIN was correct, but the SMS could not be sent!"
    assert http_sink.requests == []


async def test_phone_in_log_is_masked(admin_api, http_sink, alice):
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    page = await admin_api.value("/sms/messages")
    assert page["messages"][0]["phone"] != PHONE
