"""Pumping defences: what a login sees when a rule blocks, and what it never sees."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, update

from app.db.tables import Token
from app.traffic.repo import COUNTER
from tests.api.sms_login import PHONE, check, enrol, gateway_to_sink, last_otp
from tests.traffic.conftest import audit_rows

PIN = {"pass": "1234"}


async def _login(api, user="alice"):
    return await check(api, user=user, realm="corp", **PIN)


async def _failcount(api, serial):
    [token] = (await api.value("/token/", params={"serial": serial}))["tokens"]
    return token["failcount"]


async def test_a_burst_to_one_number_stops_at_the_limit_and_resumes_after_the_window(
    admin_api, http_sink, defaults, clock
):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api)
    for _ in range(5):
        answer = await _login(admin_api)
        assert answer["result"]["authentication"] == "CHALLENGE"
        clock.advance(31)  # past the resend cooldown
    blocked = await _login(admin_api)
    assert blocked["result"] == {"status": True, "value": False, "authentication": "REJECT"}
    assert "'number_10m'" in blocked["detail"]["message"]
    assert "transaction_id" not in blocked["detail"]
    assert len(http_sink.requests) == 5
    assert await _failcount(admin_api, serial) == 0
    [audited] = await audit_rows(admin_api, "traffic_block")
    assert audited["target"] == "number_10m" and audited["serial"] == serial
    assert PHONE not in audited["info"]  # masked
    clock.advance(600 - 5 * 31)
    assert (await _login(admin_api))["result"]["authentication"] == "CHALLENGE"
    assert len(http_sink.requests) == 6


async def test_the_message_names_the_rule_never_the_counts(admin_api, http_sink, defaults, clock):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    for _ in range(6):
        answer = await _login(admin_api)
        clock.advance(31)
    message = answer["detail"]["message"]
    assert message == "The SMS was not sent: blocked by the traffic rule 'number_10m'."


async def test_a_pin_step_within_the_cooldown_answers_the_open_challenge_again(
    admin_api, http_sink, defaults, clock
):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    first = await _login(admin_api)
    clock.advance(29)
    again = await _login(admin_api)
    assert again["result"]["authentication"] == "CHALLENGE"
    assert again["detail"]["transaction_id"] == first["detail"]["transaction_id"]
    assert len(http_sink.requests) == 1
    answer = await check(
        admin_api, user="alice", realm="corp",
        transaction_id=first["detail"]["transaction_id"], **{"pass": last_otp(http_sink)},
    )  # fmt: skip
    assert answer["result"]["authentication"] == "ACCEPT"
    # Answered: the next PIN step starts a new challenge even inside the cooldown.
    fresh = await _login(admin_api)
    assert fresh["detail"]["transaction_id"] != first["detail"]["transaction_id"]
    assert len(http_sink.requests) == 2


async def test_after_the_cooldown_a_pin_step_sends_a_new_otp(admin_api, http_sink, defaults, clock):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    first = await _login(admin_api)
    clock.advance(31)
    second = await _login(admin_api)
    assert second["detail"]["transaction_id"] != first["detail"]["transaction_id"]
    assert len(http_sink.requests) == 2


def _number(n: int) -> str:
    return f"+4917012345{n:02d}"  # one prefix: +491701234


async def test_a_pumping_burst_trips_the_conversion_guard_but_a_safe_number_passes(
    admin_api, http_sink, defaults, clock
):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post("/traffic/safelist", {"entry": _number(99), "note": "help desk"})
    for n in range(12):
        await enrol(admin_api, user=f"bot{n}", phone=_number(n))
    await enrol(admin_api, user="desk", phone=_number(99))
    answers = [await _login(admin_api, f"bot{n}") for n in range(11)]
    assert [a["result"]["authentication"] for a in answers] == ["CHALLENGE"] * 10 + ["REJECT"]
    assert "'conversion_prefix'" in answers[-1]["detail"]["message"]
    assert len(http_sink.requests) == 10
    blocks = await admin_api.value("/traffic/blocks")
    assert {(b["rule"], b["subject"]) for b in blocks} == {
        ("conversion_prefix", "+491701234"),
        ("conversion_country", "DE"),
    }
    assert (await _login(admin_api, "desk"))["result"]["authentication"] == "CHALLENGE"
    # The block lasts an hour; lifted, the prefix may try again.
    clock.advance(1800)
    assert (await _login(admin_api, "bot11"))["result"]["authentication"] == "REJECT"
    await admin_api.delete("/traffic/blocks/conversion_prefix/%2B491701234")
    await admin_api.delete("/traffic/blocks/conversion_country/DE")
    assert await admin_api.value("/traffic/blocks") == []
    assert (await _login(admin_api, "bot11"))["result"]["authentication"] == "CHALLENGE"


async def test_a_second_block_lasts_twice_as_long(admin_api, http_sink, defaults, clock):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post("/traffic/settings", {"conversion": {"scopes": ["prefix"]}})
    for n in range(24):
        await enrol(admin_api, user=f"bot{n}", phone=_number(n))
    for n in range(11):
        await _login(admin_api, f"bot{n}")
    [first] = await admin_api.value("/traffic/blocks")
    assert first["blocked_until"] - clock.now == pytest.approx(3600)
    clock.advance(3601)
    answers = [await _login(admin_api, f"bot{n}") for n in range(11, 22)]
    assert answers[-1]["result"]["authentication"] == "REJECT"
    [second] = await admin_api.value("/traffic/blocks")
    assert second["blocked_until"] - clock.now == pytest.approx(7200)


async def test_answered_challenges_keep_a_prefix_open(admin_api, http_sink, defaults, clock):
    await gateway_to_sink(admin_api, http_sink)
    for n in range(12):
        await enrol(admin_api, user=f"user{n}", phone=_number(n))
    for n in range(12):
        challenge = await _login(admin_api, f"user{n}")
        assert challenge["result"]["authentication"] == "CHALLENGE"
        if n % 3 == 0:  # a third of them answered: above 20 %
            answer = await check(
                admin_api, user=f"user{n}", realm="corp",
                transaction_id=challenge["detail"]["transaction_id"],
                **{"pass": last_otp(http_sink)},
            )  # fmt: skip
            assert answer["result"]["authentication"] == "ACCEPT"
    assert await admin_api.value("/traffic/blocks") == []


@pytest.mark.parametrize(
    ("phone", "rule"),
    [("+499001234567", "number_type_premium_rate"), ("+4918012345", "number_type_shared_cost")],
)
async def test_premium_rate_and_shared_cost_numbers_get_no_sms(
    admin_api, http_sink, defaults, phone, rule
):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api, phone=phone)
    answer = await _login(admin_api)
    assert answer["result"]["authentication"] == "REJECT"
    assert f"'{rule}'" in answer["detail"]["message"]
    assert http_sink.requests == []
    assert await _failcount(admin_api, serial) == 0


async def test_a_denied_country_gets_no_sms_and_a_monitored_one_is_audited(
    admin_api, http_sink, defaults
):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    await admin_api.post("/traffic/countries", {"code": "DE", "permission": "deny"})
    denied = await _login(admin_api)
    assert "'geo_DE'" in denied["detail"]["message"]
    assert http_sink.requests == []
    await admin_api.post("/traffic/countries", {"code": "DE", "permission": "monitor"})
    assert (await _login(admin_api))["result"]["authentication"] == "CHALLENGE"
    [noted] = await audit_rows(admin_api, "traffic_monitor")
    assert noted["target"] == "geo_DE" and noted["success"] is True


async def test_a_country_hourly_cap_blocks_beyond_it(admin_api, http_sink, defaults, clock):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post(
        "/traffic/countries", {"code": "DE", "permission": "allow", "hourly_cap": 2}
    )
    for n in range(3):
        await enrol(admin_api, user=f"user{n}", phone=f"+49151234567{n}")
    answers = [await _login(admin_api, f"user{n}") for n in range(3)]
    assert [a["result"]["authentication"] for a in answers] == ["CHALLENGE"] * 2 + ["REJECT"]
    assert "'geo_DE_hourly'" in answers[-1]["detail"]["message"]
    clock.advance(3600)
    assert (await _login(admin_api, "user2"))["result"]["authentication"] == "CHALLENGE"


async def test_a_monitored_rule_only_counts_and_audits(admin_api, http_sink, defaults, clock):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    rule = {"name": "number_10m", "scope": "number", "window": 600, "limit": 1, "mode": "monitor"}
    await admin_api.post("/traffic/rules", rule)
    for _ in range(3):
        assert (await _login(admin_api))["result"]["authentication"] == "CHALLENGE"
        clock.advance(31)
    assert len(http_sink.requests) == 3
    assert [r["target"] for r in await audit_rows(admin_api, "traffic_monitor")] == [
        "number_10m"
    ] * 2


async def test_per_user_and_per_ip_rules_count_every_number(admin_api, http_sink, defaults, clock):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post(
        "/traffic/rules", {"name": "ip_10m", "scope": "ip", "window": 600, "limit": 3}
    )
    for n in range(4):
        await enrol(admin_api, user=f"user{n}", phone=f"+49151234567{n}")
    answers = [await _login(admin_api, f"user{n}") for n in range(4)]
    assert answers[-1]["detail"]["message"].endswith("'ip_10m'.")


async def test_a_stored_number_that_no_longer_parses_is_refused_clearly(
    admin_api, http_sink, defaults, runtime
):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api)
    stale = update(Token).where(Token.serial == serial).values(phone="+999123456789")
    await runtime.db.write(lambda tx: tx.execute(stale))
    answer = await _login(admin_api)
    assert answer["result"]["authentication"] == "REJECT"
    assert "not a valid phone number" in answer["detail"]["message"]
    assert http_sink.requests == []
    assert await admin_api.value("/traffic/counters") == []


async def test_triggerchallenge_is_under_the_same_rules(admin_api, http_sink, defaults, clock):
    await gateway_to_sink(admin_api, http_sink)
    serial = await enrol(admin_api)
    values = []
    for _ in range(6):
        reply = await admin_api.call("POST", "/validate/triggerchallenge", json={"serial": serial})
        values.append(reply["result"]["value"])
        clock.advance(31)
    assert values == [1] * 5 + [0]
    assert "'number_10m'" in reply["detail"]["message"]


async def test_counters_whose_window_ended_are_purged(
    admin_api, http_sink, defaults, clock, runtime
):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    await enrol(admin_api, user="bob", phone="+4915123456789")
    await _login(admin_api)
    clock.advance(86400 + 1)
    runtime.traffic._next_purge = 0.0  # this process's minute has come
    await _login(admin_api, "bob")
    rows = await runtime.db.read(
        lambda tx: tx.execute(select(COUNTER.c.subject).distinct()).scalars().all()
    )
    assert PHONE not in rows and "+4915123456789" in rows


async def test_a_monitored_conversion_guard_notes_but_never_blocks(
    admin_api, http_sink, defaults, clock
):
    await gateway_to_sink(admin_api, http_sink)
    await admin_api.post("/traffic/settings", {"conversion": {"mode": "monitor"}})
    for n in range(12):
        await enrol(admin_api, user=f"bot{n}", phone=_number(n))
    answers = [await _login(admin_api, f"bot{n}") for n in range(12)]
    assert {a["result"]["authentication"] for a in answers} == {"CHALLENGE"}
    assert await admin_api.value("/traffic/blocks") == []
    noted = {r["target"] for r in await audit_rows(admin_api, "traffic_monitor")}
    assert noted == {"conversion_prefix", "conversion_country"}


async def test_concurrent_logins_block_only_those_over_the_limit(
    admin_api, http_sink, defaults, clock
):
    # The logins' writes share transactions: one refused must take back its own counts only.
    await gateway_to_sink(admin_api, http_sink)
    for n in range(8):
        await enrol(admin_api, user=f"shared{n}")  # one number for all eight
    for n in range(4):
        await enrol(admin_api, user=f"own{n}", phone=f"+4915112345{n:02d}")
    shared = [_login(admin_api, f"shared{n}") for n in range(8)]
    own = [_login(admin_api, f"own{n}") for n in range(4)]
    answers = await asyncio.gather(*shared, *own)
    outcomes = [a["result"]["authentication"] for a in answers]
    assert sorted(outcomes[:8]) == ["CHALLENGE"] * 5 + ["REJECT"] * 3
    assert outcomes[8:] == ["CHALLENGE"] * 4
    assert len(http_sink.requests) == 9
    counters = await admin_api.value("/traffic/counters", params={"rule": "number_10m"})
    assert sorted(c["hits"] for c in counters) == [1, 1, 1, 1, 5]  # not 8: refusals took back
