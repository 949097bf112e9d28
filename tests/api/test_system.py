"""/system: the sms.* configuration."""

from __future__ import annotations

import pytest

from tests.api.sms_login import gateway_to_sink


async def test_set_read_and_delete_config(admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)  # sets sms.identifier
    value = await admin_api.post(
        "/system/setConfig",
        {"sms.providerTimeout": "120", "sms.text": "Code: <otp>", "sms.concurrent_challenges": "1"},
        form=True,
    )
    assert value == {
        "sms.providerTimeout": "insert",
        "sms.text": "insert",
        "sms.concurrent_challenges": "insert",
    }
    assert await admin_api.value("/system/") == {
        "sms.identifier": "sms-gw",
        "sms.providerTimeout": "120",
        "sms.text": "Code: <otp>",
        "sms.concurrent_challenges": "True",
    }
    assert await admin_api.post("/system/setConfig", {"sms.text": "{otp}"}) == {
        "sms.text": "update"
    }
    assert await admin_api.delete("/system/sms.text") is True
    assert "sms.text" not in await admin_api.value("/system/")
    await admin_api.error("DELETE", "/system/sms.text", status=404)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"sms.providerTimeout": "soon"}, "sms.providerTimeout"),
        ({"sms.providerTimeout": "1"}, "sms.providerTimeout"),
        ({"sms.identifier": None}, "sms.identifier"),  # optional, but not nullable
        ({"sms.concurrent_challenges": "maybe"}, "sms.concurrent_challenges"),
        ({"sms.text": "no tag here"}, "sms.text"),
        ({"sms.unknown": "x"}, "sms.unknown"),
        ({}, "sms.identifier"),
    ],
)
async def test_bad_config_is_a_400_naming_the_key_and_changes_nothing(admin_api, body, named):
    error = await admin_api.post_error("/system/setConfig", body, status=400, code=905)
    assert named in error["message"]
    assert await admin_api.value("/system/") == {}


async def test_a_gateway_that_does_not_exist_is_a_404_naming_the_key(admin_api):
    error = await admin_api.post_error(
        "/system/setConfig", {"sms.identifier": "no-such-gateway"}, status=404, code=601
    )
    assert "sms.identifier" in error["message"]
    assert await admin_api.value("/system/") == {}


async def test_values_come_as_privacyidea_sends_them_text_or_json_types(admin_api):
    body = {"sms.providerTimeout": 120, "sms.concurrent_challenges": True}
    await admin_api.post("/system/setConfig", body)
    assert await admin_api.value("/system/") == {
        "sms.providerTimeout": "120",
        "sms.concurrent_challenges": "True",
    }
    await admin_api.post("/system/setConfig", {"sms.providerTimeout": "300"})
    assert (await admin_api.value("/system/"))["sms.providerTimeout"] == "300"


async def test_a_300_character_key_is_refused_as_unknown(admin_api):
    error = await admin_api.error("DELETE", "/system/" + "k" * 300, status=400, code=905)
    assert "key" in error["message"]


async def test_deleting_an_unknown_key_is_a_400(admin_api):
    await admin_api.error("DELETE", "/system/sms.unknown", status=400, code=905)


async def test_system_write_needs_its_policy(admin_api):
    await admin_api.post("/policy/ro", {"scope": "admin", "action": "system_read"})
    await admin_api.post_error("/system/setConfig", {"sms.text": "<otp>"}, status=403, code=303)
    assert await admin_api.value("/system/") == {}
