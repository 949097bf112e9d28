"""Guessing a PIN or an OTP: the fail counter stops it, even in parallel, and tells nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.db.tables import Token, utcnow
from app.security import passwords
from tests.api.sms_login import (
    check,
    count_hashes,
    enrol,
    gateway_to_sink,
    last_otp,
    real_hashes,
    token_row,
)
from tests.waiting import eventually

ALICE = {"user": "alice", "realm": "corp"}


def _wrong_otps(right: str, count: int) -> list[str]:
    return [f"{n:06d}" for n in range(count + 1) if f"{n:06d}" != right][:count]


def _answer(envelope: dict[str, object]) -> tuple[object, object]:
    detail = envelope["detail"]
    assert isinstance(detail, dict)
    return envelope["result"], detail["message"]


async def _lock(api, serial: str, maxfail: int) -> None:
    for _ in range(maxfail):
        await check(api, **ALICE, **{"pass": "0000"})
    assert (await token_row(api, serial))["locked"] is True


# --- 1. a locked token is no PIN oracle ---------------------------------------------------


@pytest.mark.parametrize("password_length", [4, 10])
async def test_a_locked_token_answers_the_right_and_a_wrong_pin_alike_and_checks_neither(
    admin_api, http_sink, monkeypatch, password_length
):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=2)
    await _lock(admin_api, serial, 2)
    verified = count_hashes(monkeypatch)
    right = await check(admin_api, **ALICE, **{"pass": "1234".ljust(password_length, "5")})
    right_hashes = list(verified)
    verified.clear()
    wrong = await check(admin_api, **ALICE, **{"pass": "9876".ljust(password_length, "5")})
    assert _answer(right) == _answer(wrong)
    assert right["result"] == {"status": True, "value": False, "authentication": "REJECT"}
    # Neither PIN was looked at, yet each cost the hashes of a real check.
    assert real_hashes(right_hashes) == real_hashes(verified) == []
    assert len(right_hashes) == len(verified) == (2 if password_length >= 6 else 1)
    assert http_sink.requests == []
    assert (await token_row(admin_api, serial))["failcount"] == 2


async def test_a_locked_token_costs_the_hashes_of_a_wrong_pin_on_an_open_one(
    admin_api, http_sink, monkeypatch
):
    await gateway_to_sink(admin_api, http_sink)
    locked = await enrol(admin_api, maxfail=1)
    await _lock(admin_api, locked, 1)
    await enrol(admin_api, user="bob")
    verified = count_hashes(monkeypatch)
    for user in ("alice", "bob"):
        await check(admin_api, user=user, realm="corp", **{"pass": "98765432"})
    alice_hashes, bob_hashes = verified[: len(verified) // 2], verified[len(verified) // 2 :]
    assert len(alice_hashes) == len(bob_hashes) == 2
    assert real_hashes(alice_hashes) == []


async def test_a_disabled_token_answers_like_a_wrong_pin(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api)
    await admin_api.post("/token/disable", {"serial": serial})
    right = await check(admin_api, **ALICE, **{"pass": "1234"})
    wrong = await check(admin_api, **ALICE, **{"pass": "9876"})
    assert _answer(right) == _answer(wrong)
    assert right["result"]["authentication"] == "REJECT"
    assert http_sink.requests == []


# --- 2. parallel guesses cannot pass the fail counter -------------------------------------


async def test_forty_concurrent_pin_otp_guesses_against_maxfail_3_check_at_most_3(
    admin_api, http_sink, monkeypatch
):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=3)
    challenge = await check(admin_api, **ALICE, **{"pass": "1234"})
    assert challenge["result"]["authentication"] == "CHALLENGE"
    otp = last_otp(http_sink)
    verified = count_hashes(monkeypatch)
    answers = await asyncio.gather(
        *(check(admin_api, **ALICE, **{"pass": "1234" + g}) for g in _wrong_otps(otp, 40))
    )
    assert {a["result"]["authentication"] for a in answers} == {"REJECT"}
    assert len(real_hashes(verified)) <= 3
    assert (await token_row(admin_api, serial))["failcount"] == 3
    late = await check(admin_api, **ALICE, **{"pass": "1234" + otp})
    assert late["result"]["authentication"] == "REJECT"


async def test_forty_concurrent_wrong_pins_against_maxfail_3_check_at_most_3(
    admin_api, http_sink, monkeypatch
):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=3)
    verified = count_hashes(monkeypatch)
    answers = await asyncio.gather(
        *(check(admin_api, **ALICE, **{"pass": f"{n:04d}"}) for n in range(2000, 2040))
    )
    assert {a["result"]["authentication"] for a in answers} == {"REJECT"}
    assert len(real_hashes(verified)) <= 3
    assert (await token_row(admin_api, serial))["failcount"] == 3
    assert (await check(admin_api, **ALICE, **{"pass": "1234"}))["result"]["value"] is False
    assert http_sink.requests == []


async def test_forty_concurrent_otp_answers_against_maxfail_3_check_at_most_3(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=3)
    challenge = await check(admin_api, **ALICE, **{"pass": "1234"})
    otp = last_otp(http_sink)
    body = {**ALICE, "transaction_id": challenge["detail"]["transaction_id"]}
    answers = await asyncio.gather(
        *(check(admin_api, **body, **{"pass": g}) for g in _wrong_otps(otp, 40))
    )
    assert {a["result"]["authentication"] for a in answers} == {"REJECT"}
    assert (await token_row(admin_api, serial))["failcount"] == 3
    late = await check(admin_api, **body, **{"pass": otp})
    assert late["result"]["authentication"] == "REJECT"


async def test_a_right_pin_gives_its_reserved_attempt_back(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=3)
    await check(admin_api, **ALICE, **{"pass": "0000"})
    for _ in range(5):
        answer = await check(admin_api, **ALICE, **{"pass": "1234"})
        assert answer["result"]["authentication"] == "CHALLENGE"
    assert (await token_row(admin_api, serial))["failcount"] == 1


# --- 3. nobody can lock a user for good ---------------------------------------------------


async def test_made_up_transaction_ids_do_not_count_against_maxfail(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=3)
    for n in range(10):
        answer = await check(admin_api, **ALICE, transaction_id=f"{n:020d}", **{"pass": "123456"})
        assert answer["result"]["authentication"] == "REJECT"
    assert (await token_row(admin_api, serial))["failcount"] == 0
    started = await check(admin_api, **ALICE, **{"pass": "1234"})
    assert started["result"]["authentication"] == "CHALLENGE"


async def test_the_fail_counter_clears_after_the_timeout(admin_api, http_sink, runtime):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=3)
    await _lock(admin_api, serial, 3)
    assert (await check(admin_api, **ALICE, **{"pass": "1234"}))["result"]["value"] is False
    assert http_sink.requests == []
    timeout = runtime.settings.failcounter_clear_seconds
    assert timeout == 300  # the default, as privacyIDEA's failcounter_clear_timeout
    long_ago = utcnow() - timedelta(seconds=timeout + 1)
    await runtime.db.write(lambda tx: tx.execute(update(Token).values(last_fail=long_ago)))
    started = await check(admin_api, **ALICE, **{"pass": "1234"})
    assert started["result"]["authentication"] == "CHALLENGE"
    assert (await token_row(admin_api, serial))["failcount"] == 0


async def test_a_failure_within_the_timeout_keeps_counting(admin_api, http_sink, runtime):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=3)
    await check(admin_api, **ALICE, **{"pass": "0000"})
    recently = utcnow() - timedelta(seconds=299)
    await runtime.db.write(lambda tx: tx.execute(update(Token).values(last_fail=recently)))
    await check(admin_api, **ALICE, **{"pass": "0000"})
    assert (await token_row(admin_api, serial))["failcount"] == 2


async def test_an_unknown_user_and_a_wrong_pin_are_answered_alike(
    admin_api, http_sink, monkeypatch
):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    verified = count_hashes(monkeypatch)
    wrong_pin = await check(admin_api, **ALICE, **{"pass": "98765432"})
    wrong_pin_hashes = len(verified)
    verified.clear()
    unknown = await check(admin_api, user="mallory", realm="corp", **{"pass": "98765432"})
    assert _answer(unknown) == _answer(wrong_pin)
    assert unknown["detail"]["message"] == "wrong otp pin"
    assert len(verified) == wrong_pin_hashes == 2
    by_serial = await check(admin_api, serial="PISM00000000", **{"pass": "98765432"})
    assert _answer(by_serial) == _answer(wrong_pin)


# --- 5. the hash queue is bounded ---------------------------------------------------------


async def test_past_the_hash_queue_bound_a_check_is_a_503_with_retry_after_and_counts_nothing(
    admin_api, http_sink, monkeypatch
):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, maxfail=100)
    monkeypatch.setitem(passwords._limits, "pin", 4)
    body = {**ALICE, "pass": "0000"}
    replies = await asyncio.gather(
        *(admin_api.client.post("/validate/check", json=body) for _ in range(30))
    )
    busy = [r for r in replies if r.status_code == 503]
    checked = [r for r in replies if r.status_code == 200]
    assert busy and checked and len(busy) + len(checked) == 30
    for reply in busy:
        assert reply.headers["Retry-After"] == "1"
        assert reply.json()["result"]["status"] is False
        assert reply.json()["result"]["error"]["code"] == 503
        assert reply.json()["detail"] is None
    assert (await token_row(admin_api, serial))["failcount"] == len(checked)
    assert passwords.in_flight("pin") == 0


async def test_an_admin_logs_in_while_many_wrong_pins_wait_for_the_hash_threads(
    anonymous_api, http_sink
):
    admin_api = anonymous_api
    await admin_api.login()
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api, maxfail=1000)
    admin_api.token = None
    guesses = [
        asyncio.create_task(check(admin_api, **ALICE, **{"pass": f"9{n:07d}"})) for n in range(60)
    ]
    try:
        await eventually(lambda: passwords.in_flight("pin") >= 30, timeout=10)
        await admin_api.login()
        # The admin's hash did not queue behind the PIN checks: most are still waiting.
        assert passwords.in_flight("pin") >= 10
    finally:
        answers = await asyncio.gather(*guesses)
    assert {a["result"]["authentication"] for a in answers} == {"REJECT"}
