"""Admin policies: none means everything is allowed; once one exists, exactly its grants."""

from __future__ import annotations

import pytest

from tests.conftest import ADMIN

GATEWAY = {"name": "gw1", "module": "providers.http.HttpProvider", "option.URL": "http://h/x"}


async def test_without_an_admin_policy_every_admin_may_do_everything(admin_api):
    await admin_api.post("/smsgateway", GATEWAY)
    assert len(await admin_api.value("/smsgateway/")) == 1


async def test_set_list_and_delete_a_policy(admin_api):
    value = await admin_api.post(
        "/policy/readers", {"scope": "admin", "action": "smsgateway_read, policyread,policywrite"}
    )
    assert list(value) == ["setPolicy readers"]
    [policy] = await admin_api.value("/policy/")
    assert policy["name"] == "readers" and policy["scope"] == "admin"
    assert policy["action"] == {"smsgateway_read": True, "policyread": True, "policywrite": True}
    assert await admin_api.value("/policy/readers") == [policy]
    assert await admin_api.delete("/policy/readers") == value["setPolicy readers"]
    assert await admin_api.value("/policy/") == []


async def test_a_policys_description_is_stored_and_read_back(admin_api):
    action = "smsgateway_read, policyread, policywrite"
    body = {"scope": "admin", "action": action, "description": "ops may look"}
    await admin_api.post("/policy/lookers", body)
    [policy] = await admin_api.value("/policy/lookers")
    assert policy["description"] == "ops may look"
    await admin_api.post("/policy/lookers", {"scope": "admin", "action": action})
    [policy] = await admin_api.value("/policy/lookers")
    assert policy["description"] == ""


@pytest.mark.parametrize("form", [False, True], ids=["json", "form"])
async def test_a_read_only_policy_refuses_writes_with_403_code_303_and_stores_nothing(
    admin_api, form
):
    await admin_api.post("/policy/ro", {"scope": "admin", "action": "smsgateway_read"}, form=form)
    error = await admin_api.post_error("/smsgateway", GATEWAY, status=403, code=303, form=form)
    assert "smsgateway_write" in error["message"]
    assert await admin_api.value("/smsgateway/") == []
    await admin_api.error("DELETE", "/smsgateway/gw1", status=403, code=303)


async def test_a_write_policy_without_read_refuses_every_get(admin_api):
    await admin_api.post("/policy/wo", {"scope": "admin", "action": ["smsgateway_write"]})
    await admin_api.post("/smsgateway", GATEWAY)
    for path in ("/smsgateway/", "/smsgateway", "/smsgateway/providers", "/smsgateway/1"):
        await admin_api.error("GET", path, status=403, code=303)


async def test_a_policy_for_another_admin_grants_this_one_nothing(admin_api):
    await admin_api.post(
        "/policy/ops", {"scope": "admin", "action": "smsgateway_read", "adminuser": "ops"}
    )
    await admin_api.error("GET", "/smsgateway/", status=403, code=303)


async def test_a_policy_naming_this_admin_grants_its_actions(admin_api):
    await admin_api.post(
        "/policy/mine",
        {"scope": "admin", "action": {"smsgateway_read": True}, "adminuser": f"ops,{ADMIN}"},
    )
    await admin_api.value("/smsgateway/")
    await admin_api.post_error("/smsgateway", GATEWAY, status=403)


async def test_an_inactive_policy_counts_as_none(admin_api):
    await admin_api.post(
        "/policy/off", {"scope": "admin", "action": "smsgateway_read", "active": False}
    )
    await admin_api.post("/smsgateway", GATEWAY)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"scope": "admin", "action": "fly"}, "fly"),
        ({"scope": "admin"}, "action"),
        ({"scope": "user", "action": "smsgateway_read"}, "scope"),
        ({"scope": "admin", "action": ""}, "action"),
    ],
)
async def test_bad_policies_are_400s_naming_the_problem(admin_api, body, named):
    error = await admin_api.post_error("/policy/p1", body, status=400, code=905)
    assert named in error["message"]
    assert await admin_api.value("/policy/") == []


async def test_deleting_an_unknown_policy_is_404(admin_api):
    await admin_api.error("DELETE", "/policy/nope", status=404, code=601)
