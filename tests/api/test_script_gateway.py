"""A script gateway through the API: names that escape the script directory are a 400 that
stores nothing; a good script sends through /sms/send."""

from __future__ import annotations

import pytest

SCRIPT = "providers.script.ScriptProvider"


@pytest.mark.parametrize("name", ["../etc/passwd", "/bin/sh", "missing.sh"])
async def test_a_script_outside_the_directory_is_a_400_naming_the_option(
    admin_api, script_dir, name
):
    body = {"name": "scripted", "module": SCRIPT, "option.script": name}
    error = await admin_api.post_error("/smsgateway", body, status=400)
    assert "script" in error["message"]
    assert await admin_api.value("/smsgateway/") == []


async def test_a_script_in_the_directory_sends_through_sms_send(admin_api, script_dir, tmp_path):
    received = tmp_path / "received"
    script = script_dir / "deliver.sh"
    script.write_text(f'#!/bin/sh\n{{ echo "$1"; cat; }} > {received}\n')
    script.chmod(0o755)
    await admin_api.post(
        "/smsgateway", {"name": "scripted", "module": SCRIPT, "option.script": "deliver.sh"}
    )
    record = await admin_api.post(
        "/sms/send", {"gateway": "scripted", "phone": "+491701234567", "message": "Hallo"}
    )
    assert record["status"] == "sent"
    assert received.read_text() == "+491701234567\nHallo"
