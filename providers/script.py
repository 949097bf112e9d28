"""Local scripts: an executable in the script directory gets the phone number as its one
argument and the message on stdin.

Never a shell: the script is executed directly, so nothing in a phone number or a message
is ever interpreted. The name must stay inside the script directory: `..`, absolute paths
and symlinks that lead out of it are refused when the gateway is created, and checked
again before every run, since the directory may have changed in between. The script sees
a minimal environment, not the service's, which may hold its keys.

In wait mode the exit status says what happened, so that the delivery engine can act on it:

    0                    sent
    2                    the number is refused (invalid or barred): no gateway will take it
    75 (EX_TEMPFAIL)     not now: try again later
    any other status     the gateway refused the message (configuration, credit, content)

A script that runs past its timeout, or is killed by a signal, may have sent the message:
the outcome is unknown.
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
from pydantic_core import PydanticCustomError

from providers.base import (
    OutcomeUnknown,
    Provider,
    ProviderContext,
    ProviderOptions,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    SendResult,
    TemporaryFailure,
    TimedOut,
)
from providers.registry import registry

log = logging.getLogger("smsgw.providers.script")
_KEPT_OUTPUT = 64 * 1024  # bytes of stderr kept for the error message
_SHOWN_OUTPUT = 200  # characters of stderr's last line in a SendError
_AFTER_EXIT = 0.5  # seconds to collect stderr once the script itself has exited
EXIT_REJECTED_NUMBER, EXIT_TEMPORARY = 2, 75  # see the module's docstring
_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class ScriptMissing(ValueError):
    """The name is well formed, but no executable of that name is in the script directory
    (now): the directory's state, not the request, is what is wrong."""


def resolve_script(name: str, directory: Path) -> Path:
    """The script's real path, or ValueError saying why the name is not allowed."""
    if not name or name != name.strip():
        raise ValueError("must be a file name in the script directory")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError("must be a file name relative to the script directory, without '..'")
    try:
        root = directory.resolve()
        path = (root / relative).resolve()
        inside = path.is_relative_to(root)
        is_file = inside and path.is_file()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long, no permission
        raise ScriptMissing(f"cannot be resolved in the script directory: {exc}") from None
    if not inside:
        raise ScriptMissing("leads out of the script directory")
    if not is_file:
        raise ScriptMissing(f"no such script in the script directory ({root})")
    if not os.access(path, os.X_OK):
        raise ScriptMissing("the script is not executable")
    return path


_SEGMENT = r"(?:[^/.\x00][^/\x00]*|\.[^/.\x00][^/\x00]*|\.\.[^/\x00]+|\.)"
_NAME = rf"^{_SEGMENT}(?:/+{_SEGMENT})*/*$"


class ScriptOptions(ProviderOptions):
    script: str = Field(
        description="File name of an executable in the script directory (SMSGW_SCRIPT_DIR); "
        "it gets the phone number as its argument and the message on stdin",
        # A relative path without a ".." segment; whether it exists is the directory's
        # state (a 404 when the gateway is saved), not the text's.
        json_schema_extra={
            "x-wire": {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": _NAME}
        },
    )
    background: Literal["wait", "background"] = Field(
        "wait",
        description="wait: the script's exit status decides whether the message was sent; "
        "background: sent as soon as the script has started",
    )
    timeout: float = Field(
        30.0, gt=0, le=3600, description="Seconds the script may run before it is killed"
    )

    @field_validator("script")
    @classmethod
    def _inside_script_dir(cls, value: str, info: ValidationInfo) -> str:
        context = (info.context or {}).get("provider") or ProviderContext()
        try:
            resolve_script(value, context.script_dir)
        except ScriptMissing as exc:
            raise PydanticCustomError("not_found", str(exc)) from None
        return value


class _Watch(asyncio.subprocess.SubprocessStreamProtocol):
    """The streams of create_subprocess_exec, plus the moment the script itself exits.

    Process.wait() also waits until every pipe is closed, and a child the script left
    running keeps stderr open: the script's own exit must decide, not its children's.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(limit=_KEPT_OUTPUT, loop=loop)
        self.exited: asyncio.Future[None] = loop.create_future()

    def process_exited(self) -> None:
        super().process_exited()
        if not self.exited.done():
            self.exited.set_result(None)


class _Run:
    """One run of a script, in its own process group so that a kill takes its children."""

    def __init__(self, transport: asyncio.SubprocessTransport, watch: _Watch) -> None:
        self.transport = transport
        self.watch = watch
        self.process = asyncio.subprocess.Process(transport, watch, asyncio.get_running_loop())
        self.stderr = b""

    @classmethod
    async def start(cls, path: Path, argument: str) -> _Run:
        loop = asyncio.get_running_loop()
        transport, watch = await loop.subprocess_exec(
            lambda: _Watch(loop),
            path,
            argument,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,  # nothing to read, so it can never fill up
            stderr=asyncio.subprocess.PIPE,
            cwd=path.parent,
            env=_ENVIRONMENT,
            start_new_session=True,
        )
        return cls(transport, watch)

    async def finish(self, message: bytes, seconds: float) -> None:
        """Feed the message, wait within the timeout; SendError unless the script exits 0."""
        try:
            async with asyncio.timeout(seconds):
                await self._talk(message)
        except TimeoutError:
            raise TimedOut("timeout", f"script ran longer than {seconds:g} s") from None
        finally:
            await self.stop()
        code = self.process.returncode
        if code is not None and code < 0:
            raise OutcomeUnknown(f"signal_{-code}", f"script was killed by {_signal_name(-code)}")
        if code != 0:
            lines = self.stderr.decode(errors="replace").splitlines()
            last = next((line.strip() for line in reversed(lines) if line.strip()), "")
            shown = "".join(c if c.isprintable() else "?" for c in last[:_SHOWN_OUTPUT])
            detail = f": {shown}" if shown else ""
            kind: type[SendError] = RejectedByGateway
            if code == EXIT_REJECTED_NUMBER:
                kind = RejectedNumber
            elif code == EXIT_TEMPORARY:
                kind = TemporaryFailure
            raise kind(f"exit_{code}", f"script exited with {code}{detail}")

    async def _talk(self, message: bytes) -> None:
        feeding = asyncio.ensure_future(self._feed(message))
        reading = asyncio.ensure_future(self._read_stderr())
        try:
            await asyncio.shield(self.watch.exited)  # a timeout must not cancel the exit
            # What the script wrote before its exit is in the pipe by now; a child it left
            # running may hold the pipe open for much longer, so do not wait for its end.
            await asyncio.wait({reading}, timeout=_AFTER_EXIT)
        finally:
            feeding.cancel()
            reading.cancel()
        if feeding.done() and not feeding.cancelled():
            feeding.result()  # surfaces anything but the script not reading its stdin

    async def _feed(self, message: bytes) -> None:
        assert self.process.stdin is not None
        # A script may exit, or close stdin, without reading the message: not an error here.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.process.stdin.write(message)
            await self.process.stdin.drain()
        self.process.stdin.close()

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        while chunk := await self.process.stderr.read(_KEPT_OUTPUT):
            self.stderr = (self.stderr + chunk)[-_KEPT_OUTPUT:]

    async def stop(self) -> None:
        """Kill the process group if the script still runs, reap it, release the pipes."""
        if not self.watch.exited.done():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            await asyncio.shield(self.watch.exited)
        self.transport.close()


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
        # Background runs, kept here so their tasks are not collected and aclose finds them.
        self._background: dict[asyncio.Task[None], _Run] = {}

    def _path(self) -> Path:
        try:
            return resolve_script(self.options.script, self.context.script_dir)
        except ValueError as exc:
            raise RejectedByGateway("script", f"script {self.options.script!r}: {exc}") from None

    async def send(self, phone: str, message: str) -> SendResult:
        path = self._path()
        try:
            run = await _Run.start(path, self.phone_for(phone))
        except OSError as exc:
            # A missing interpreter (#!) or a file that is no program only shows here.
            raise RejectedByGateway(
                "script", f"script {self.options.script!r} could not start: {exc.strerror}"
            ) from None
        if self.options.background == "background":
            task = asyncio.get_running_loop().create_task(
                self._in_background(run, message.encode(), path.name)
            )
            self._background[task] = run
            task.add_done_callback(lambda done: self._background.pop(done, None))
            return SendResult(raw_status=f"started as process {run.process.pid}")
        await run.finish(message.encode(), self.options.timeout)
        return SendResult(raw_status="exit 0")

    async def _in_background(self, run: _Run, message: bytes, name: str) -> None:
        try:
            await run.finish(message, self.options.timeout)
        except SendError as exc:
            # Nobody waits for this answer any more: the log is where an operator sees it.
            log.warning("background script %s failed: %s", name, exc.message)

    async def drain(self) -> None:
        """Let the background runs finish; each ends by its timeout at the latest."""
        if self._background:
            # asyncio.wait, not gather: cancelling the drain must not cancel the runs.
            await asyncio.wait(set(self._background))

    async def aclose(self) -> None:
        for task, run in list(self._background.items()):
            if not task.done():
                # Its send was answered "sent": the log must say that it did not finish.
                log.warning(
                    "background script %s was stopped before it finished: failed",
                    self.options.script,
                )
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await run.stop()  # a task cancelled before it started never ran its own clean-up


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal has no name
        return f"signal {number}"
