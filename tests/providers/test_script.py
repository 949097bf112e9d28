"""The script provider runs real scripts the tests write into a script directory."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from providers.base import (
    OutcomeUnknown,
    ProviderContext,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    TemporaryFailure,
    TimedOut,
)
from providers.registry import OptionsInvalid, registry
from providers.script import ScriptProvider
from tests.waiting import eventually

NAME = "providers.script.ScriptProvider"
ALIAS = "privacyidea.lib.smsprovider.ScriptSMSProvider.ScriptSMSProvider"
RECORDER = """#!/usr/bin/env python3
import json, os, sys
message = sys.stdin.buffer.read().decode("utf-8")
with open(os.path.join(os.path.dirname(__file__), "record.json"), "w") as out:
    json.dump({"argv": sys.argv[1:], "stdin": message, "env": dict(os.environ),
               "cwd": os.getcwd()}, out)
"""

Gateway = Callable[..., ScriptProvider]


def reaped(pid: int) -> bool:
    """Whether our own child has exited and been waited for (no zombie left)."""
    return not Path(f"/proc/{pid}").exists()


def gone(pid: int) -> bool:
    """Whether a grandchild has exited: its zombie belongs to init, which may be slow."""
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def write_script(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    path = directory / name
    path.write_text(body)
    path.chmod(mode)
    return path


def pid_in(marker: Path) -> int:
    return int(marker.read_text())


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    directory = tmp_path / "scripts"
    directory.mkdir()
    write_script(directory, "record.py", RECORDER)
    return directory


@pytest_asyncio.fixture
async def gateway(scripts: Path) -> AsyncIterator[Gateway]:
    made: list[ScriptProvider] = []

    def make(**options: Any) -> ScriptProvider:
        context = ProviderContext(script_dir=scripts)
        raw = {key: str(value) for key, value in options.items()}
        made.append(ScriptProvider(registry.validate(NAME, raw, context), context=context))
        return made[-1]

    yield make
    for provider in made:
        await provider.aclose()


def record(scripts: Path) -> dict[str, Any]:
    return json.loads((scripts / "record.json").read_text())


def invalid_keys(scripts: Path, **raw: str) -> list[str]:
    with pytest.raises(OptionsInvalid) as error:
        registry.validate(NAME, raw, ProviderContext(script_dir=scripts))
    return [key for key, _ in error.value.errors]


async def test_the_phone_is_the_argument_and_the_message_arrives_on_stdin(scripts, gateway):
    result = await gateway(script="record.py").send("+491701234567", "Code 123456")
    assert record(scripts)["argv"] == ["+491701234567"]
    assert record(scripts)["stdin"] == "Code 123456"
    assert record(scripts)["cwd"] == str(scripts.resolve())
    assert result.raw_status == "exit 0"


async def test_shell_metacharacters_and_unicode_arrive_literally(scripts, gateway):
    message = "$(rm -rf /); `id` | & > x Grüße € 🙂"
    await gateway(script="record.py").send("+49170; rm -rf / | cat &", message)
    assert record(scripts)["argv"] == ["+49170; rm -rf / | cat &"]
    assert record(scripts)["stdin"] == message


async def test_regexp_rewrites_the_phone(scripts, gateway):
    await gateway(script="record.py", REGEXP="/^\\+//").send("+491701234567", "x")
    assert record(scripts)["argv"] == ["491701234567"]


async def test_the_script_does_not_see_the_services_environment(scripts, gateway, monkeypatch):
    monkeypatch.setenv("SMSGW_ENCRYPTION_KEY", "very-secret")
    await gateway(script="record.py").send("+491701234567", "x")
    environment = record(scripts)["env"]
    assert "SMSGW_ENCRYPTION_KEY" not in environment
    assert "very-secret" not in json.dumps(environment)
    assert environment["LC_ALL"] == "C.UTF-8"


async def test_a_non_zero_exit_is_an_error_with_the_last_line_of_stderr(scripts, gateway):
    write_script(
        scripts, "fail.sh", "#!/bin/sh\necho 'first' >&2\necho 'quota exceeded' >&2\n\nexit 3\n"
    )
    with pytest.raises(SendError) as error:
        await gateway(script="fail.sh").send("+491701234567", "x")
    assert error.value.code == "exit_3"
    assert error.value.message == "script exited with 3: quota exceeded"
    assert not error.value.retryable


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (2, RejectedNumber),
        (75, TemporaryFailure),
        (1, RejectedByGateway),
        (3, RejectedByGateway),
        (64, RejectedByGateway),
        (255, RejectedByGateway),
    ],
)
async def test_the_exit_status_says_what_kind_of_failure_it_was(scripts, gateway, status, kind):
    write_script(scripts, "status.sh", f"#!/bin/sh\ncat > /dev/null\nexit {status}\n")
    with pytest.raises(SendError) as error:
        await gateway(script="status.sh").send("+491701234567", "x")
    assert type(error.value) is kind and error.value.code == f"exit_{status}"


async def test_a_long_stderr_line_is_cut_in_the_error(scripts, gateway):
    write_script(scripts, "loud.sh", "#!/bin/sh\nprintf 'a\\033b%0500d\\n' 7 >&2\nexit 1\n")
    with pytest.raises(SendError) as error:
        await gateway(script="loud.sh").send("+491701234567", "x")
    # Control characters from the script are not passed on to logs and the API.
    assert error.value.message == "script exited with 1: a?b" + "0" * 197


async def test_floods_of_output_and_a_large_message_do_not_block_the_script(scripts, gateway):
    # Pipes hold 64 KiB: a script writing megabytes before it reads stdin would hang if its
    # output were not drained while the message is still being written.
    write_script(
        scripts,
        "flood.sh",
        "#!/bin/sh\nyes | head -c 2000000\nyes | head -c 2000000 >&2\n"
        "wc -c > ../stdin.count\necho 'last words' >&2\nexit 4\n",
    )
    with pytest.raises(SendError) as error:
        await gateway(script="flood.sh", timeout="10").send("+491701234567", "m" * 1_000_000)
    assert error.value.code == "exit_4"
    assert error.value.message.endswith("last words")
    assert (scripts.parent / "stdin.count").read_text().strip() == "1000000"


async def test_a_script_that_ignores_its_stdin_still_succeeds(scripts, gateway):
    write_script(scripts, "deaf.sh", "#!/bin/sh\nexec 0<&-\nexit 0\n")
    result = await gateway(script="deaf.sh").send("+491701234567", "m" * 1_000_000)
    assert result.raw_status == "exit 0"


async def test_a_child_left_running_does_not_hold_up_the_answer(scripts, gateway, tmp_path):
    marker = tmp_path / "child.pid"
    write_script(scripts, "detach.sh", f"#!/bin/sh\nsleep 30 &\necho $! > {marker}\nexit 0\n")
    result = await gateway(script="detach.sh", timeout="10").send("+491701234567", "x")
    assert result.raw_status == "exit 0"
    child = pid_in(marker)
    assert not gone(child)  # the answer came while the child still runs
    os.kill(child, signal.SIGKILL)


async def test_a_timeout_kills_the_script_and_its_children(scripts, gateway, tmp_path):
    script_pid, child_pid = tmp_path / "script.pid", tmp_path / "child.pid"
    write_script(
        scripts,
        "hang.sh",
        f"#!/bin/sh\necho $$ > {script_pid}\nsleep 30 &\necho $! > {child_pid}\nwait\n",
    )
    with pytest.raises(TimedOut) as error:
        await gateway(script="hang.sh", timeout="0.5").send("+491701234567", "x")
    assert error.value.code == "timeout" and error.value.retryable
    assert reaped(pid_in(script_pid))
    await eventually(lambda: gone(pid_in(child_pid)))


async def test_a_script_killed_by_a_signal_leaves_the_outcome_unknown_and_names_it(
    scripts, gateway
):
    write_script(scripts, "killed.sh", "#!/bin/sh\nkill -TERM $$\nsleep 5\n")
    with pytest.raises(OutcomeUnknown) as error:
        await gateway(script="killed.sh").send("+491701234567", "x")
    assert error.value.code == "signal_15"
    assert "SIGTERM" in error.value.message


async def test_a_script_that_cannot_start_is_rejected_by_the_gateway(scripts, gateway):
    write_script(scripts, "broken.sh", "#!/nonexistent/interpreter\n")
    with pytest.raises(RejectedByGateway) as error:
        await gateway(script="broken.sh").send("+491701234567", "x")
    assert error.value.code == "script"
    assert "could not start" in error.value.message


async def test_background_answers_at_once_and_the_script_still_finishes(scripts, gateway, tmp_path):
    done, go = tmp_path / "done", tmp_path / "go"
    write_script(
        scripts,
        "slow.sh",
        f"#!/bin/sh\ncat > {done}.part\nwhile [ ! -e {go} ]; do sleep 0.01; done\n"
        f"mv {done}.part {done}\n",
    )
    # The script cannot finish before the test lets it: the answer must not wait for it.
    result = await gateway(script="slow.sh", background="background").send("+491701234567", "hi")
    assert result.raw_status.startswith("started as process ")
    assert not done.exists()
    go.touch()
    await eventually(done.exists)
    assert done.read_text() == "hi"
    pid = int(result.raw_status.rsplit(" ", 1)[1])
    await eventually(lambda: reaped(pid))


async def test_a_failing_background_script_is_logged_without_the_message(scripts, gateway, caplog):
    write_script(scripts, "fail.sh", "#!/bin/sh\ncat > /dev/null\necho 'no credit' >&2\nexit 2\n")
    caplog.set_level(logging.WARNING, logger="smsgw.providers.script")
    result = await gateway(script="fail.sh", background="background").send("+4917012", "OTP 9")
    assert result.raw_status.startswith("started")
    await eventually(lambda: any("no credit" in r.getMessage() for r in caplog.records))
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "fail.sh" in logged and "exited with 2" in logged
    assert "OTP 9" not in logged


async def test_a_background_script_is_killed_at_its_timeout(scripts, gateway, tmp_path, caplog):
    marker = tmp_path / "pid"
    write_script(scripts, "hang.sh", f"#!/bin/sh\necho $$ > {marker}\nsleep 30\n")
    caplog.set_level(logging.WARNING, logger="smsgw.providers.script")
    await gateway(script="hang.sh", background="background", timeout="0.3").send("+49", "x")
    await eventually(lambda: any("longer than 0.3 s" in r.getMessage() for r in caplog.records))
    assert reaped(pid_in(marker))


async def test_aclose_stops_background_scripts_and_logs_them_failed(
    scripts, gateway, tmp_path, caplog
):
    marker = tmp_path / "pid"
    write_script(scripts, "hang.sh", f"#!/bin/sh\necho $$ > {marker}\nsleep 30\n")
    caplog.set_level(logging.WARNING, logger="smsgw.providers.script")
    provider = gateway(script="hang.sh", background="background", timeout="60")
    await provider.send("+491701234567", "x")
    await eventually(lambda: marker.exists() and marker.read_text().strip() != "")
    await provider.aclose()
    assert reaped(pid_in(marker))
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "hang.sh was stopped before it finished: failed" in logged


async def test_drain_lets_background_scripts_finish(scripts, gateway, tmp_path):
    gate, done = tmp_path / "gate", tmp_path / "done"
    write_script(
        scripts,
        "gated.sh",
        f"#!/bin/sh\ncat > /dev/null\nwhile [ ! -e {gate} ]; do sleep 0.01; done\ntouch {done}\n",
    )
    provider = gateway(script="gated.sh", background="background", timeout="30")
    await provider.send("+491701234567", "x")
    draining = asyncio.ensure_future(provider.drain())
    await asyncio.sleep(0)
    assert not draining.done()
    gate.touch()
    await draining
    assert done.exists()


@pytest.mark.parametrize(
    "name",
    ["../record.py", "/bin/sh", "sub/../../record.py", "missing.sh", "plain.txt", "out", "loop"],
)
def test_names_that_leave_the_directory_or_cannot_run_are_refused(scripts, tmp_path, name):
    write_script(scripts, "plain.txt", "not executable", mode=0o644)
    (scripts / "out").symlink_to(write_script(tmp_path, "outside.sh", "#!/bin/sh\n"))
    (scripts / "loop").symlink_to(scripts / "loop")
    assert invalid_keys(scripts, script=name) == ["script"]


def test_the_script_option_is_required(scripts):
    assert invalid_keys(scripts) == ["script"]


@pytest.mark.parametrize(
    ("key", "value"),
    [("background", "later"), ("timeout", "soon"), ("timeout", "0"), ("timeout", "86400")],
)
def test_bad_background_and_timeout_values_are_named(scripts, key, value):
    assert invalid_keys(scripts, script="record.py", **{key: value}) == [key]


def test_options_arrive_as_strings(scripts):
    options = registry.validate(
        NAME, {"script": "record.py", "timeout": "5"}, ProviderContext(script_dir=scripts)
    )
    assert options.model_dump() == {
        "REGEXP": None,
        "script": "record.py",
        "background": "wait",
        "timeout": 5.0,
    }


async def test_a_script_in_a_subdirectory_and_a_symlink_inside_are_allowed(scripts, gateway):
    (scripts / "sub").mkdir()
    write_script(scripts / "sub", "nested.sh", f"#!/bin/sh\ncat > {scripts}/nested.out\n")
    (scripts / "alias.py").symlink_to(scripts / "record.py")
    await gateway(script="alias.py").send("+491701234567", "x")
    assert record(scripts)["stdin"] == "x"
    await gateway(script="sub/nested.sh").send("+491701234567", "y")
    assert (scripts / "nested.out").read_text() == "y"


async def test_a_script_removed_after_creation_is_a_send_error(scripts, gateway):
    provider = gateway(script="record.py")
    (scripts / "record.py").unlink()
    with pytest.raises(SendError) as error:
        await provider.send("+491701234567", "x")
    assert error.value.code == "script"
    assert "no such script" in error.value.message


async def test_a_script_swapped_for_a_link_outside_is_a_send_error(scripts, gateway, tmp_path):
    provider = gateway(script="record.py")
    (scripts / "record.py").unlink()
    (scripts / "record.py").symlink_to(write_script(tmp_path, "evil.sh", "#!/bin/sh\n"))
    with pytest.raises(SendError) as error:
        await provider.send("+491701234567", "x")
    assert error.value.code == "script"
    assert "leads out of the script directory" in error.value.message


def test_privacyideas_class_path_resolves_to_the_script_provider():
    assert registry.resolve(ALIAS) is ScriptProvider
    assert registry.resolve(NAME) is ScriptProvider


def test_the_provider_list_describes_every_option():
    parameters = registry.schema()[NAME]["parameters"]
    assert set(parameters) == {"REGEXP", "script", "background", "timeout"}
    assert all(parameter["description"] for parameter in parameters.values())
    assert parameters["script"]["required"] is True
    assert parameters["background"]["values"] == ["wait", "background"]
