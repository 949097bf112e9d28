"""Admin policies limited to a realm (and users) hold for every token action."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from app.db import token_repo
from app.security.caller import Caller
from app.services import admins
from tests.api.sms_login import PHONE, gateway_to_sink
from tests.conftest import ADMIN, Api

TOKEN_ACTIONS = (
    "enrollSMS, tokenlist, triggerchallenge, enable, disable, delete, resetfailcount, setpin"
)


@pytest_asyncio.fixture(loop_scope="session")
async def corp_admin(service, runtime, admin_api) -> AsyncIterator[Api]:
    """An admin whose policy covers the realm corp only; `admin` may do everything."""
    await admins.add(runtime, "corpadmin", "corp-admin-password", Caller("test"))
    await admin_api.post("/policy/all", {"scope": "admin", "action": ",".join(
        ["policywrite", "policyread", "smsgateway_write", "system_write", TOKEN_ACTIONS]
    ), "adminuser": ADMIN})  # fmt: skip
    await admin_api.post(
        "/policy/corp",
        {"scope": "admin", "action": TOKEN_ACTIONS, "adminuser": "corpadmin", "realm": "corp"},
    )
    transport = httpx.ASGITransport(app=service, client=("127.0.0.10", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://smsgw.test") as client:
        api = Api(client)
        await api.login("corpadmin", "corp-admin-password")
        yield api


async def enrol_as(api: Api, user: str, realm: str) -> str:
    body = {"type": "sms", "user": user, "realm": realm, "pin": "1234", "phone": PHONE}
    return str((await api.call("POST", "/token/init", json=body))["detail"]["serial"])


async def token(admin_api: Api, serial: str) -> dict[str, object]:
    [found] = (await admin_api.value("/token/", params={"serial": serial}))["tokens"]
    return dict(found)


async def test_enrolling_in_another_realm_is_refused(corp_admin, admin_api):
    body = {"type": "sms", "user": "eve", "realm": "other", "pin": "1", "phone": PHONE}
    error = await corp_admin.error("POST", "/token/init", json=body, status=403, code=303)
    assert "enrollSMS" in error["message"] and "other" in error["message"]
    assert (await admin_api.value("/token/"))["tokens"] == []
    await enrol_as(corp_admin, "alice", "corp")


async def test_listing_shows_only_tokens_of_the_policy_realms(corp_admin, admin_api):
    mine = await enrol_as(admin_api, "alice", "corp")
    theirs = await enrol_as(admin_api, "eve", "other")
    listed = await corp_admin.value("/token/")
    assert [t["serial"] for t in listed["tokens"]] == [mine] and listed["count"] == 1
    for params in ({"serial": theirs}, {"realm": "other"}, {"user": "eve", "realm": "other"}):
        page = await corp_admin.value("/token/", params=params)
        assert page["tokens"] == [] and page["count"] == 0
    assert len((await admin_api.value("/token/"))["tokens"]) == 2


@pytest.mark.parametrize(
    ("path", "action", "field", "expected"),
    [
        ("/token/disable", "disable", "active", True),
        ("/token/enable", "enable", "active", False),
        ("/token/resetfailcount", "resetfailcount", "failcount", 3),
    ],
)
async def test_changing_a_token_of_another_realm_is_refused_and_changes_nothing(
    corp_admin, admin_api, runtime, path, action, field, expected
):
    theirs = await enrol_as(admin_api, "eve", "other")
    if field == "active":
        await admin_api.post(
            "/token/disable" if not expected else "/token/enable", {"serial": theirs}
        )
    else:
        await runtime.db.write(lambda tx: token_repo.set_fields(tx, [theirs], failcount=3))
    for body in ({"serial": theirs}, {"user": "eve", "realm": "other"}):
        error = await corp_admin.post_error(path, body, status=403, code=303)
        assert action in error["message"]
    assert (await token(admin_api, theirs))[field] == expected
    mine = await enrol_as(admin_api, "alice", "corp")
    await corp_admin.post(path, {"serial": mine})


async def test_deleting_a_token_of_another_realm_is_refused(corp_admin, admin_api):
    theirs = await enrol_as(admin_api, "eve", "other")
    await corp_admin.error("DELETE", f"/token/{theirs}", status=403, code=303)
    assert await token(admin_api, theirs)
    mine = await enrol_as(admin_api, "alice", "corp")
    assert await corp_admin.delete(f"/token/{mine}") == 1


async def test_triggering_a_challenge_in_another_realm_is_refused(corp_admin, admin_api, http_sink):
    await gateway_to_sink(admin_api, http_sink)
    theirs = await enrol_as(admin_api, "eve", "other")
    for body in ({"serial": theirs}, {"user": "eve", "realm": "other"}):
        await corp_admin.post_error("/validate/triggerchallenge", body, status=403, code=303)
    assert not http_sink.requests
    await enrol_as(admin_api, "alice", "corp")
    reply = await corp_admin.request(
        "POST", "/validate/triggerchallenge", json={"user": "alice", "realm": "corp"}
    )
    assert reply.json()["result"]["value"] == 1
    assert len(http_sink.requests) == 1


async def test_a_policy_naming_users_covers_only_those_users(corp_admin, admin_api):
    await admin_api.post(
        "/policy/corp",
        {"scope": "admin", "action": TOKEN_ACTIONS, "adminuser": "corpadmin", "realm": "corp",
         "user": "alice"},
    )  # fmt: skip
    [policy] = [p for p in await admin_api.value("/policy/") if p["name"] == "corp"]
    assert policy["user"] == ["alice"] and policy["realm"] == ["corp"]
    bob = await enrol_as(admin_api, "bob", "corp")
    alice = await enrol_as(corp_admin, "alice", "corp")
    body = {"type": "sms", "user": "bob", "realm": "corp", "pin": "1", "phone": PHONE}
    await corp_admin.error("POST", "/token/init", json=body, status=403, code=303)
    assert [t["serial"] for t in (await corp_admin.value("/token/"))["tokens"]] == [alice]
    await corp_admin.post_error("/token/disable", {"serial": bob}, status=403, code=303)


async def test_a_policy_without_realm_still_covers_every_realm(admin_api):
    theirs = await enrol_as(admin_api, "eve", "other")
    await admin_api.post("/policy/all", {"scope": "admin", "action": TOKEN_ACTIONS})
    assert [t["serial"] for t in (await admin_api.value("/token/"))["tokens"]] == [theirs]
    await admin_api.post("/token/disable", {"serial": theirs})
