"""GET /audit/: the audit trail, newest first, filtered and paged."""

from __future__ import annotations

GATEWAY = {"name": "gw1", "module": "providers.http.HttpProvider", "option.URL": "http://h/x"}


async def test_the_audit_trail_lists_writes_and_logins_newest_first(admin_api):
    await admin_api.post("/smsgateway", GATEWAY)
    await admin_api.post_error("/smsgateway", {**GATEWAY, "option.URL": "bad"}, status=400)
    page = await admin_api.value("/audit/", params={"action": "smsgateway_write"})
    assert page["count"] == 2
    assert [e["success"] for e in page["auditdata"]] == [False, True]
    assert all(e["actor"] == "admin" and e["target"] == "gw1" for e in page["auditdata"])
    logins = await admin_api.value("/audit/", params={"action": "auth", "success": True})
    assert logins["count"] >= 1


async def test_failed_logins_are_audited_without_the_password(admin_api):
    await admin_api.post_error(
        "/auth", {"username": "admin", "password": "canary-pw-99"}, status=401
    )
    page = await admin_api.value("/audit/", params={"action": "auth", "success": False})
    assert page["count"] == 1
    assert "canary-pw-99" not in str(page)


async def test_reading_the_audit_needs_its_policy_action(admin_api):
    await admin_api.post("/policy/ro", {"scope": "admin", "action": "smsgateway_read"})
    await admin_api.error("GET", "/audit/", status=403, code=303)
