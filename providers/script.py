"""Local scripts: an executable in the script directory gets the phone number as its one
argument and the message on stdin.

Never a shell: the script runs by asyncio.create_subprocess_exec, so nothing in a phone
number or a message is ever interpreted. The name must stay inside the script directory:
`..`, absolute paths and symlinks that lead out of it are refused when the gateway is
created, and checked again before every run. The script sees a minimal environment, not
the service's, which may hold its keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from providers.base import (
    Provider,
    ProviderContext,
    ProviderOptions,
    SendError,
    SendResult,
)
from providers.registry import registry

log = logging.getLogger("smsgw.providers.script")
_KEPT_OUTPUT = 64 * 1024  # bytes of stderr kept for the error message
_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def resolve_script(name: str, directory: Path) -> Path:
    """The script's real path, or ValueError saying why the name is not allowed."""
    if not name or name != name.strip():
        raise ValueError("must be a file name in the script directory")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError("must be a file name in the script directory, without '..' or '/'")
    root = directory.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise ValueError("leads out of the script directory")
    if not path.is_file():
        raise ValueError(f"no such script in the script directory ({root})")
    if not os.access(path, os.X_OK):
        raise ValueError("the script is not executable")
    return path


class ScriptOptions(ProviderOptions):
    script: str = Field(description="File name of an executable in the script directory")
    background: Literal["wait", "background"] = Field(
        "wait", description="wait: the exit status decides; background: sent once started"
    )
    timeout: float = Field(30.0, gt=0, le=3600, description="Seconds the script may run")

    @field_validator("script")
    @classmethod
    def _inside_script_dir(cls, value: str, info: ValidationInfo) -> str:
        context = (info.context or {}).get("provider") or ProviderContext()
        resolve_script(value, context.script_dir)
        return value


@registry.register(
    "providers.script.ScriptProvider",
    aliases=("privacyidea.lib.smsprovider.ScriptSMSProvider.ScriptSMSProvider",),
)
class ScriptProvider(Provider[ScriptOptions]):
    """Run a local script for each message."""

    options_model = ScriptOptions
    description = "Local script: phone number as its argument, message on stdin"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._background: dict[asyncio.Task[None], asyncio.subprocess.Process] = {}

    def _path(self) -> Path:
        try:
            return resolve_script(self.options.script, self.context.script_dir)
        except ValueError as exc:
            raise SendError("script", f"script {self.options.script!r}: {exc}") from None

    async def send(self, phone: str, message: str) -> SendResult:
        path = self._path()
        process = await asyncio.create_subprocess_exec(
            path,
            self.phone_for(phone),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            cwd=path.parent,
            env=_ENVIRONMENT,
            start_new_session=True,  # its own process group, so a timeout kills its children
        )
        if self.options.background == "background":
            task = asyncio.get_running_loop().create_task(
                self._in_background(process, message.encode(), path.name)
            )
            self._background[task] = process  # a task nobody references may be collected
            task.add_done_callback(lambda done: self._background.pop(done, None))
            return SendResult(raw_status=f"started as process {process.pid}")
        await self._finish(process, message.encode())
        return SendResult(raw_status="exit 0")

    async def _finish(self, process: asyncio.subprocess.Process, message: bytes) -> None:
        """Feed the message, wait within the timeout; SendError unless the script exits 0."""
        try:
            async with asyncio.timeout(self.options.timeout):
                stderr = await _talk(process, message)
        except TimeoutError:
            raise SendError(
                "timeout", f"script ran longer than {self.options.timeout:g} s", retryable=True
            ) from None
        finally:
            if process.returncode is None:
                _kill(process)
                await process.wait()
        if process.returncode != 0:
            lines = stderr.decode(errors="replace").splitlines()
            last = next((line.strip() for line in reversed(lines) if line.strip()), "")
            raise SendError(
                f"exit_{process.returncode}",
                f"script exited with {process.returncode}: {last[:200]}".rstrip(": "),
            )

    async def _in_background(
        self, process: asyncio.subprocess.Process, message: bytes, name: str
    ) -> None:
        try:
            await self._finish(process, message)
        except SendError as exc:
            log.warning("background script %s failed: %s", name, exc.message)

    async def aclose(self) -> None:
        for task, process in list(self._background.items()):
            task.cancel()
            _kill(process)  # the task may not have started, so its clean-up may never run
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await process.wait()


def _kill(process: asyncio.subprocess.Process) -> None:
    """SIGKILL the script and everything it started (its own process group)."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


async def _talk(process: asyncio.subprocess.Process, message: bytes) -> bytes:
    """Write the message to stdin, drain stderr keeping only its tail, wait for the exit."""
    assert process.stdin is not None and process.stderr is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(message)
        await process.stdin.drain()
    process.stdin.close()
    tail = b""
    while chunk := await process.stderr.read(65536):
        tail = (tail + chunk)[-_KEPT_OUTPUT:]
    await process.wait()
    return tail
