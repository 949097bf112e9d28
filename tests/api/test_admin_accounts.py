"""Admins can be deleted, and a password change or deletion revokes earlier tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from app.security.caller import Caller
from app.security.tokens import TokenIssuer
from app.services import admins
from tests.conftest import ADMIN, Api


@pytest_asyncio.fixture(loop_scope="session")
async def ops(service, runtime) -> AsyncIterator[Api]:
    """A second admin, logged in."""
    await admins.add(runtime, "ops", "ops-password-1", Caller("test"))
    transport = httpx.ASGITransport(app=service, client=("127.0.0.11", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://smsgw.test") as client:
        api = Api(client)
        await api.login("ops", "ops-password-1")
        yield api


async def test_a_password_change_revokes_tokens_issued_before_it(ops, runtime):
    old_token = ops.token
    await ops.value("/smsgateway/")
    await admins.add(runtime, "ops", "ops-password-2", Caller("test"))
    error = await ops.error("GET", "/smsgateway/", status=401, code=4304)
    assert "revoked" in error["message"]
    await ops.login("ops", "ops-password-2")
    assert ops.token != old_token
    await ops.value("/smsgateway/")


async def test_deleting_an_admin_revokes_its_tokens_and_its_login(admin_api, ops, runtime):
    assert await admin_api.delete("/admin/ops") == 1
    await ops.error("GET", "/smsgateway/", status=401, code=4304)
    reply = await ops.client.post("/auth", json={"username": "ops", "password": "ops-password-1"})
    assert reply.status_code == 401
    [entry] = [
        e for e in (await admin_api.value("/audit/"))["auditdata"] if e["action"] == "admin_delete"
    ]
    assert entry["target"] == "ops" and entry["success"] is True


async def test_deleting_an_unknown_admin_is_404(admin_api):
    await admin_api.error("DELETE", "/admin/nobody", status=404, code=601)


async def test_the_last_admin_cannot_be_deleted(admin_api):
    error = await admin_api.error("DELETE", f"/admin/{ADMIN}", status=400, code=905)
    assert "last admin" in error["message"]
    await admin_api.value("/smsgateway/")


async def test_deleting_admins_needs_admin_write(admin_api, ops):
    await admin_api.post("/policy/root", {"scope": "admin", "action": "admin_write,policywrite",
                                          "adminuser": ADMIN})  # fmt: skip
    await admin_api.post("/policy/ops", {"scope": "admin", "action": "smsgateway_read",
                                         "adminuser": "ops"})  # fmt: skip
    error = await ops.error("DELETE", f"/admin/{ADMIN}", status=403, code=303)
    assert "admin_write" in error["message"]
    assert await admin_api.delete("/admin/ops") == 1


async def test_tokens_issued_under_an_older_jwt_key_still_verify():
    old, new = b"o" * 48, b"n" * 48
    issued = TokenIssuer([old], 60).issue("ops", "admin", 3)
    claims = TokenIssuer([new, old], 60).verify(issued)
    assert claims == {"username": "ops", "role": "admin", "gen": 3}
    fresh = TokenIssuer([new, old], 60).issue("ops")
    assert TokenIssuer([new], 60).verify(fresh)["username"] == "ops"
