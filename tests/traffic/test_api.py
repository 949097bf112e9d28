"""/traffic over the API: rules read and set, bad input refused before anything is stored."""

from __future__ import annotations

import pytest

from tests.api.sms_login import PHONE, check, enrol, gateway_to_sink

RULE = {"name": "number_10m", "scope": "number", "window": 600, "limit": 3}


async def test_the_default_rules_are_listed_as_shipped(admin_api, defaults):
    rules = await admin_api.value("/traffic/rules")
    assert [(r["name"], r["scope"], r["window"], r["limit"], r["mode"]) for r in rules] == [
        ("number_10m", "number", 600, 5, "enforce"),
        ("number_24h", "number", 86400, 10, "enforce"),
        ("prefix_1h", "prefix", 3600, 20, "enforce"),
        ("ip_10m", "ip", 600, 20, "enforce"),
        ("user_10m", "user", 600, 20, "enforce"),
    ]
    assert all(r["default"] and r["active"] for r in rules)
    settings = await admin_api.value("/traffic/settings")
    assert settings["refused_types"] == ["premium_rate", "shared_cost"]
    assert settings["resend_cooldown"] == 30
    assert settings["sms_send"] is False
    assert settings["conversion"] == {
        "mode": "enforce", "scopes": ["prefix", "country"], "window": 3600, "min_sent": 10,
        "min_answered": 0.2, "block": 3600, "max_block": 86400,
    }  # fmt: skip


async def test_a_rule_is_set_added_and_deleted_back_to_its_default(admin_api, defaults):
    assert await admin_api.post("/traffic/rules", RULE) == "number_10m"
    added = {"name": "country_1h", "scope": "country", "window": 3600, "limit": 100}
    await admin_api.post("/traffic/rules", added, form=True)
    rules = {r["name"]: r for r in await admin_api.value("/traffic/rules")}
    assert rules["number_10m"]["limit"] == 3 and rules["number_10m"]["default"] is True
    assert rules["country_1h"]["default"] is False
    assert await admin_api.delete("/traffic/rules/number_10m") == 1
    assert await admin_api.delete("/traffic/rules/country_1h") == 1
    rules = {r["name"]: r for r in await admin_api.value("/traffic/rules")}
    assert rules["number_10m"]["limit"] == 5 and "country_1h" not in rules
    await admin_api.error("DELETE", "/traffic/rules/country_1h", status=404, code=601)
    writes = await admin_api.value("/audit/", params={"action": "traffic_write"})
    assert writes["count"] == 5  # the failed delete too


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/traffic/rules", {**RULE, "limit": -1}, "limit"),
        ("/traffic/rules", {**RULE, "scope": "planet"}, "scope"),
        ("/traffic/rules", {**RULE, "window": 0}, "window"),
        ("/traffic/rules", {**RULE, "mode": "loud"}, "mode"),
        ("/traffic/rules", {**RULE, "name": "Bad Name"}, "name"),
        ("/traffic/countries", {"code": "XX", "permission": "deny"}, "code"),
        ("/traffic/countries", {"code": "de", "permission": "deny"}, "code"),
        ("/traffic/rules", {**RULE, "active": 0}, "active"),
        ("/traffic/rules", {**RULE, "limit": "5"}, "limit"),
        ("/traffic/countries", {"code": "DE", "permission": "maybe"}, "permission"),
        (
            "/traffic/countries",
            {"code": "DE", "permission": "allow", "hourly_cap": -5},
            "hourly_cap",
        ),
        ("/traffic/safelist", {"entry": "49170"}, "entry"),
        ("/traffic/safelist", {"entry": "+0170"}, "entry"),
        ("/traffic/safelist", {"entry": "+49 170"}, "entry"),
        ("/traffic/settings", {"refused_types": ["expensive"]}, "refused_types"),
        ("/traffic/settings", {"resend_cooldown": -1}, "resend_cooldown"),
        ("/traffic/settings", {"conversion": {"min_answered": 2}}, "min_answered"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(
    admin_api, defaults, path, body, field
):
    before = await admin_api.value(path if path != "/traffic/settings" else "/traffic/settings")
    error = await admin_api.post_error(path, body, status=400)
    assert field in error["message"]
    assert await admin_api.value(path) == before


async def test_counters_are_listed_and_filtered(admin_api, http_sink, defaults):
    await gateway_to_sink(admin_api, http_sink)
    await enrol(admin_api)
    await check(admin_api, user="alice", realm="corp", **{"pass": "1234"})
    counters = await admin_api.value("/traffic/counters")
    assert {c["rule"] for c in counters} == {
        "number_10m", "number_24h", "prefix_1h", "ip_10m", "user_10m", "resend_cooldown",
        "conversion_prefix", "conversion_country",
    }  # fmt: skip
    [mine] = await admin_api.value("/traffic/counters", params={"rule": "number_10m"})
    assert mine["subject"] == PHONE and mine["hits"] == 1
    assert mine["expires_at"] - mine["started_at"] == 600


async def test_lifting_a_block_that_does_not_exist_is_a_404(admin_api, defaults):
    await admin_api.error("DELETE", "/traffic/blocks/conversion_prefix/%2B49170", status=404)


async def test_the_high_risk_preset_marks_countries_monitor(admin_api, defaults):
    count = await admin_api.post("/traffic/presets/high_risk", {})
    countries = await admin_api.value("/traffic/countries")
    assert len(countries) == count > 20
    assert {c["permission"] for c in countries} == {"monitor"}
    assert await admin_api.delete("/traffic/countries/NG") == 1
    await admin_api.error("DELETE", "/traffic/countries/XX", status=400)


async def test_traffic_actions_are_granted_by_admin_policies(admin_api, defaults):
    policy = {"scope": "admin", "action": "traffic_read", "adminuser": "admin"}
    await admin_api.post("/policy/readonly", policy)
    assert await admin_api.value("/traffic/rules")
    await admin_api.post_error("/traffic/rules", RULE, status=403, code=303)
    await admin_api.error("GET", "/traffic/gateways", status=403, code=303)


async def test_sms_send_is_under_the_rules_per_caller_once_enabled(admin_api, http_sink, defaults):
    await gateway_to_sink(admin_api, http_sink)
    body = {"gateway": "sms-gw", "phone": PHONE, "message": "hello"}
    for _ in range(6):
        await admin_api.post("/sms/send", body)  # off by default
    await admin_api.post("/traffic/settings", {"sms_send": True})
    await admin_api.post("/traffic/rules", {**RULE, "name": "user_10m", "scope": "user"})
    for _ in range(3):
        await admin_api.post("/sms/send", {**body, "phone": "+4915123456789"})
    error = await admin_api.post_error("/sms/send", body, status=429, code=802)
    assert "'user_10m'" in error["message"]
    assert len(http_sink.requests) == 9
