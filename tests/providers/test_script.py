"""The script provider runs real scripts the tests write into a script directory."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from providers.base import ProviderContext, SendError
from providers.registry import OptionsInvalid, registry
from providers.script import ScriptProvider

NAME = "providers.script.ScriptProvider"
RECORDER = """#!/usr/bin/env python3
import json, os, sys
message = sys.stdin.read()
with open(os.path.join(os.path.dirname(__file__), "record.json"), "w") as out:
    json.dump({"argv": sys.argv[1:], "stdin": message, "env": dict(os.environ),
               "cwd": os.getcwd()}, out)
"""


def gone(pid: int) -> bool:
    """Whether a process has exited (a zombie waiting for init counts as exited)."""
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def write_script(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = directory / name
    path.write_text(body)
    path.chmod(mode)
    return path


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    directory = tmp_path / "scripts"
    directory.mkdir()
    write_script(directory, "record.py", RECORDER)
    return directory


def provider(scripts: Path, **options: Any) -> ScriptProvider:
    context = ProviderContext(script_dir=scripts)
    raw = {key: str(value) for key, value in options.items()}
    return ScriptProvider(registry.validate(NAME, raw, context), context=context)


def record(scripts: Path) -> dict[str, Any]:
    return json.loads((scripts / "record.json").read_text())


async def test_the_phone_is_the_argument_and_the_message_arrives_on_stdin(scripts):
    result = await provider(scripts, script="record.py").send("+491701234567", "Code 123456")
    assert record(scripts)["argv"] == ["+491701234567"]
    assert record(scripts)["stdin"] == "Code 123456"
    assert record(scripts)["cwd"] == str(scripts.resolve())
    assert result.raw_status == "exit 0"


async def test_shell_metacharacters_and_unicode_arrive_literally(scripts):
    message = "$(rm -rf /); `id` | & > x Grüße €"
    await provider(scripts, script="record.py").send("+49170; rm -rf /", message)
    assert record(scripts)["argv"] == ["+49170; rm -rf /"]
    assert record(scripts)["stdin"] == message


async def test_regexp_rewrites_the_phone(scripts):
    await provider(scripts, script="record.py", REGEXP="/^\\+//").send("+491701234567", "x")
    assert record(scripts)["argv"] == ["491701234567"]


async def test_the_script_does_not_see_the_services_environment(scripts, monkeypatch):
    monkeypatch.setenv("SMSGW_ENCRYPTION_KEY", "very-secret")
    await provider(scripts, script="record.py").send("+491701234567", "x")
    environment = record(scripts)["env"]
    assert "SMSGW_ENCRYPTION_KEY" not in environment
    assert "very-secret" not in json.dumps(environment)


async def test_a_non_zero_exit_is_an_error_with_the_last_line_of_stderr(scripts):
    write_script(
        scripts, "fail.sh", "#!/bin/sh\necho 'first' >&2\necho 'quota exceeded' >&2\n\nexit 3\n"
    )
    with pytest.raises(SendError) as error:
        await provider(scripts, script="fail.sh").send("+491701234567", "x")
    assert error.value.code == "exit_3"
    assert error.value.message.endswith("quota exceeded")
    assert not error.value.retryable


async def test_a_timeout_kills_the_script_and_its_children(scripts, tmp_path):
    marker = tmp_path / "child.pid"
    write_script(scripts, "hang.sh", f"#!/bin/sh\nsleep 30 &\necho $! > {marker}\nwait\n")
    with pytest.raises(SendError) as error:
        await provider(scripts, script="hang.sh", timeout="0.5").send("+491701234567", "x")
    assert error.value.code == "timeout" and error.value.retryable
    child = int(marker.read_text())
    await asyncio.sleep(0.1)
    assert gone(child)


async def test_background_answers_at_once_and_the_script_still_finishes(scripts, tmp_path):
    done = tmp_path / "done"
    write_script(scripts, "slow.sh", f"#!/bin/sh\ncat > /dev/null\nsleep 0.5\ntouch {done}\n")
    gateway = provider(scripts, script="slow.sh", background="background")
    result = await gateway.send("+491701234567", "x")
    assert result.raw_status.startswith("started")
    assert not done.exists()
    for _ in range(50):
        if done.exists():
            break
        await asyncio.sleep(0.05)
    assert done.exists()
    await gateway.aclose()


async def test_aclose_stops_background_scripts(scripts, tmp_path):
    marker = tmp_path / "pid"
    write_script(scripts, "hang.sh", f"#!/bin/sh\necho $$ > {marker}\nsleep 30\n")
    gateway = provider(scripts, script="hang.sh", background="background", timeout="60")
    await gateway.send("+491701234567", "x")
    for _ in range(50):
        if marker.exists() and marker.read_text().strip():
            break
        await asyncio.sleep(0.05)
    await gateway.aclose()
    assert gone(int(marker.read_text()))


@pytest.mark.parametrize(
    "name", ["../record.py", "/bin/sh", "sub/../../record.py", "missing.sh", "plain.txt", "out"]
)
def test_names_that_leave_the_directory_or_cannot_run_are_refused(scripts, tmp_path, name):
    write_script(scripts, "plain.txt", "not executable", mode=0o644)
    outside = write_script(tmp_path, "outside.sh", "#!/bin/sh\n")
    (scripts / "out").symlink_to(outside)
    with pytest.raises(OptionsInvalid) as error:
        registry.validate(NAME, {"script": name}, ProviderContext(script_dir=scripts))
    assert [key for key, _ in error.value.errors] == ["script"]


async def test_a_symlink_to_a_script_inside_the_directory_is_allowed(scripts):
    (scripts / "alias.py").symlink_to(scripts / "record.py")
    await provider(scripts, script="alias.py").send("+491701234567", "x")
    assert record(scripts)["stdin"] == "x"


async def test_a_script_removed_after_creation_is_a_send_error(scripts):
    gateway = provider(scripts, script="record.py")
    (scripts / "record.py").unlink()
    with pytest.raises(SendError) as error:
        await gateway.send("+491701234567", "x")
    assert error.value.code == "script"


def test_privacyideas_class_path_resolves_to_the_script_provider():
    assert (
        registry.resolve("privacyidea.lib.smsprovider.ScriptSMSProvider.ScriptSMSProvider")
        is ScriptProvider
    )
