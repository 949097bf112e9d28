"""API keys for services: long-lived, limited to their actions, revocable at once."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import delete, select

from app.db.tables import ApiKey
from app.errors import ParameterError
from app.security.caller import Caller
from app.services import admins
from tests.conftest import ADMIN

SEND = {"gateway": "gw1", "phone": "+491701234567", "message": "hello"}


async def make_gateway(admin_api, sink) -> None:
    await admin_api.post(
        "/smsgateway",
        {"name": "gw1", "module": "providers.http.HttpProvider", "option.URL": sink.url + "/send",
         "option.HTTP_METHOD": "POST", "option.text": "{otp}"},
    )  # fmt: skip


async def new_key(admin_api, name: str = "pi", actions: object = ("sms_send",)) -> str:
    value = await admin_api.post("/apikey", {"name": name, "actions": list(actions)})
    return str(value["key"])


def basic(name: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{key}".encode()).decode()


async def stored_keys(runtime) -> list[ApiKey]:
    return await runtime.db.read(lambda tx: list(tx.execute(select(ApiKey)).scalars().all()))


async def test_create_shows_the_key_once_and_stores_only_a_keyed_hash(admin_api, runtime):
    value = await admin_api.post("/apikey", {"name": "pi", "actions": ["sms_send"]})
    assert set(value) == {"name", "key", "actions", "created_at"}
    assert value["name"] == "pi" and value["actions"] == ["sms_send"]
    key = value["key"]
    assert len(base64.urlsafe_b64decode(key.removeprefix("smsgw_") + "=")) >= 32
    [listed] = await admin_api.value("/apikey/")
    assert listed == {"name": "pi", "actions": ["sms_send"], "created_by": ADMIN,
                      "created_at": value["created_at"], "last_used_at": None}  # fmt: skip
    [row] = await stored_keys(runtime)
    assert key not in row.key_hash and len(row.key_hash) == 64
    assert key not in str(await admin_api.value("/audit/"))


@pytest.mark.parametrize(
    "header",
    [
        lambda key: {"Authorization": f"Bearer {key}"},
        lambda key: {"Authorization": key},
        lambda key: {"PI-Authorization": key},
        lambda key: {"Authorization": basic("pi", key)},
    ],
    ids=["bearer", "bare", "pi-authorization", "basic"],
)
async def test_a_key_sends_wherever_an_admin_token_goes_and_as_basic(
    admin_api, anonymous_api, http_sink, header
):
    await make_gateway(admin_api, http_sink)
    key = await new_key(admin_api)
    reply = await anonymous_api.client.post("/sms/send", json=SEND, headers=header(key))
    assert reply.status_code == 200, reply.text
    assert http_sink.last.body == b"text=hello"
    [listed] = await admin_api.value("/apikey/")
    assert listed["last_used_at"] is not None


async def test_basic_credentials_must_name_the_key(admin_api, anonymous_api, http_sink):
    await make_gateway(admin_api, http_sink)
    key = await new_key(admin_api)
    await new_key(admin_api, "other")
    for auth in (basic("other", key), basic("pi", key + "x"), "Basic !!!"):
        reply = await anonymous_api.client.post(
            "/sms/send", json=SEND, headers={"Authorization": auth}
        )
        assert reply.status_code == 401, reply.text
        assert reply.json()["result"]["error"]["code"] == 4304
    assert not http_sink.requests


async def test_a_key_does_only_its_actions(admin_api, anonymous_api):
    key = await new_key(admin_api)
    headers = {"Authorization": key}
    for method, path in (("GET", "/smsgateway/"), ("GET", "/apikey/"), ("DELETE", "/apikey/pi")):
        reply = await anonymous_api.client.request(method, path, headers=headers)
        assert reply.status_code == 403, reply.text
        assert reply.json()["result"]["error"]["code"] == 303
    assert len(await admin_api.value("/apikey/")) == 1


async def test_admin_policies_apply_to_a_key_as_to_an_admin_of_its_name(
    admin_api, anonymous_api, http_sink
):
    await make_gateway(admin_api, http_sink)
    key = await new_key(admin_api, "pi", ["sms_send", "smsgateway_read"])
    root = {"scope": "admin", "action": "sms_send,smsgateway_read,policywrite", "adminuser": ADMIN}
    await admin_api.post("/policy/root", root)
    await admin_api.post(
        "/policy/pi", {"scope": "admin", "action": "smsgateway_read", "adminuser": "pi"}
    )
    headers = {"Authorization": f"Bearer {key}"}
    reply = await anonymous_api.client.get("/smsgateway/", headers=headers)
    assert reply.status_code == 200
    reply = await anonymous_api.client.post("/sms/send", json=SEND, headers=headers)
    assert reply.status_code == 403 and "sms_send" in reply.text
    assert not http_sink.requests


async def test_delete_revokes_at_once(admin_api, anonymous_api, http_sink):
    await make_gateway(admin_api, http_sink)
    key = await new_key(admin_api)
    headers = {"Authorization": key}
    assert (
        await anonymous_api.client.post("/sms/send", json=SEND, headers=headers)
    ).status_code == 200
    assert await admin_api.delete("/apikey/pi") == 1
    reply = await anonymous_api.client.post("/sms/send", json=SEND, headers=headers)
    assert reply.status_code == 401
    assert len(http_sink.requests) == 1
    await admin_api.error("DELETE", "/apikey/pi", status=404, code=601)


async def test_a_key_revoked_by_another_node_is_refused_at_the_next_request(
    admin_api, anonymous_api, runtime, http_sink
):
    await make_gateway(admin_api, http_sink)
    key = await new_key(admin_api)
    headers = {"PI-Authorization": key}
    assert (
        await anonymous_api.client.post("/sms/send", json=SEND, headers=headers)
    ).status_code == 200
    # as another node's DELETE /apikey would
    await runtime.db.write(lambda tx: tx.execute(delete(ApiKey)))
    reply = await anonymous_api.client.post("/sms/send", json=SEND, headers=headers)
    assert reply.status_code == 401


async def test_last_used_is_written_at_most_once_a_minute(admin_api, anonymous_api, runtime):
    key = await new_key(admin_api, "reader", ["smsgateway_read"])
    headers = {"Authorization": key}
    await anonymous_api.client.get("/smsgateway/", headers=headers)
    [first] = await stored_keys(runtime)
    await anonymous_api.client.get("/smsgateway/", headers=headers)
    [second] = await stored_keys(runtime)
    assert first.last_used_at is not None and second.last_used_at == first.last_used_at


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "actions": ["sms_send"]}, "name"),
        ({"name": "has space", "actions": ["sms_send"]}, "name"),
        ({"name": "x" * 65, "actions": ["sms_send"]}, "name"),
        ({"name": "a/b", "actions": ["sms_send"]}, "name"),
        ({"name": "pi", "actions": []}, "actions"),
        ({"name": "pi", "actions": ["sms_send", "rm_rf"]}, "actions"),
        ({"name": "pi", "actions": ""}, "actions"),
        ({"name": "pi"}, "actions"),
        ({"actions": ["sms_send"]}, "name"),
        ({"name": "pi", "actions": ["sms_send"], "key": "mine"}, "key"),
    ],
)
async def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(
    admin_api, runtime, body, field
):
    error = await admin_api.post_error("/apikey", body, status=400, code=905)
    assert field in error["message"]
    assert await stored_keys(runtime) == []


async def test_a_taken_name_is_a_409_and_the_first_key_stays(admin_api, anonymous_api):
    key = await new_key(admin_api, "pi", ["smsgateway_read"])
    error = await admin_api.post_error(
        "/apikey", {"name": "pi", "actions": ["sms_send"]}, status=409
    )
    assert "name" in error["message"]
    reply = await anonymous_api.client.get("/smsgateway/", headers={"Authorization": key})
    assert reply.status_code == 200


async def test_form_encoded_actions_as_a_comma_separated_string(admin_api):
    value = await admin_api.post(
        "/apikey", {"name": "pi", "actions": "sms_send, triggerchallenge"}, form=True
    )
    assert value["actions"] == ["sms_send", "triggerchallenge"]


async def test_nobody_grants_a_key_more_than_they_hold(admin_api, anonymous_api):
    key = await new_key(admin_api, "minter", ["apikey_write", "smsgateway_read"])
    headers = {"Authorization": key}
    reply = await anonymous_api.client.post(
        "/apikey", json={"name": "wider", "actions": ["sms_send"]}, headers=headers
    )
    assert reply.status_code == 403 and "sms_send" in reply.text
    reply = await anonymous_api.client.post(
        "/apikey", json={"name": "narrower", "actions": ["smsgateway_read"]}, headers=headers
    )
    assert reply.status_code == 200
    assert [k["name"] for k in await admin_api.value("/apikey/")] == ["minter", "narrower"]


async def test_apikey_read_lists_without_write(admin_api, anonymous_api):
    key = await new_key(admin_api, "auditor", ["apikey_read"])
    reply = await anonymous_api.client.get("/apikey/", headers={"Authorization": key})
    assert reply.status_code == 200
    assert [k["name"] for k in reply.json()["result"]["value"]] == ["auditor"]


async def test_a_key_cannot_take_an_admins_name_nor_an_admin_a_keys(admin_api, runtime):
    error = await admin_api.post_error(
        "/apikey", {"name": ADMIN, "actions": ["sms_send"]}, status=409, code=905
    )
    assert "name" in error["message"] and "admin" in error["message"]
    await new_key(admin_api, "svc")
    with pytest.raises(ParameterError):
        await admins.add(runtime, "svc", "a-password-for-svc", Caller("test"))
    assert [k.name for k in await stored_keys(runtime)] == ["svc"]
