"""A script gateway through the API: names that escape the script directory are a 400 that
stores nothing; a good script sends through /sms/send, a failing one is a failed row."""

from __future__ import annotations

from pathlib import Path

import pytest

SCRIPT = "providers.script.ScriptProvider"


def write_script(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(body)
    path.chmod(0o755)


@pytest.mark.parametrize("name", ["../etc/passwd", "/bin/sh", "sub/../../x.sh"])
async def test_a_script_outside_the_directory_is_a_400_naming_the_option(
    admin_api, script_dir, name
):
    body = {"name": "scripted", "module": SCRIPT, "option.script": name}
    error = await admin_api.post_error("/smsgateway", body, status=400)
    assert "script" in error["message"]
    assert await admin_api.value("/smsgateway/") == []


async def test_a_well_formed_name_of_no_script_is_a_404_naming_the_option(admin_api, script_dir):
    # The name is one the document allows; what is missing is the file: the directory's state.
    body = {"name": "scripted", "module": SCRIPT, "option.script": "missing.sh"}
    error = await admin_api.post_error("/smsgateway", body, status=404)
    assert "script" in error["message"]
    assert await admin_api.value("/smsgateway/") == []


async def test_a_symlink_leading_out_of_the_directory_is_a_404(admin_api, script_dir, tmp_path):
    outside = tmp_path / "outside.sh"
    write_script(tmp_path, "outside.sh", "#!/bin/sh\n")
    link = script_dir / "escape.sh"
    link.unlink(missing_ok=True)
    link.symlink_to(outside)
    body = {"name": "scripted", "module": SCRIPT, "option.script": "escape.sh"}
    error = await admin_api.post_error("/smsgateway", body, status=404)
    assert "script" in error["message"] and "leads out" in error["message"]
    assert await admin_api.value("/smsgateway/") == []


async def test_privacyideas_module_name_is_accepted(admin_api, script_dir):
    write_script(script_dir, "noop.sh", "#!/bin/sh\ncat > /dev/null\n")
    module = "privacyidea.lib.smsprovider.ScriptSMSProvider.ScriptSMSProvider"
    body = {"name": "scripted", "module": module, "option.script": "noop.sh"}
    await admin_api.post("/smsgateway", body)
    assert [gateway["name"] for gateway in await admin_api.value("/smsgateway/")] == ["scripted"]


async def test_a_script_in_the_directory_sends_through_sms_send(admin_api, script_dir, tmp_path):
    received = tmp_path / "received"
    write_script(script_dir, "deliver.sh", f'#!/bin/sh\n{{ echo "$1"; cat; }} > {received}\n')
    await admin_api.post(
        "/smsgateway", {"name": "scripted", "module": SCRIPT, "option.script": "deliver.sh"}
    )
    record = await admin_api.post(
        "/sms/send", {"gateway": "scripted", "phone": "+491701234567", "message": "Hallo"}
    )
    assert record["status"] == "sent"
    assert received.read_text() == "+491701234567\nHallo"


async def test_a_failing_script_is_a_502_and_a_failed_row_with_its_last_words(
    admin_api, script_dir
):
    write_script(
        script_dir, "refuse.sh", "#!/bin/sh\ncat > /dev/null\necho 'no credit' >&2\nexit 7\n"
    )
    await admin_api.post(
        "/smsgateway", {"name": "scripted", "module": SCRIPT, "option.script": "refuse.sh"}
    )
    await admin_api.post_error(
        "/sms/send",
        {"gateway": "scripted", "phone": "+491701234567", "message": "x"},
        status=502,
    )
    page = await admin_api.value("/sms/messages")
    assert [m["status"] for m in page["messages"]] == ["failed"]
    assert "no credit" in page["messages"][0]["error"]
