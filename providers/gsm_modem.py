"""GSM modems on a serial port: AT commands, text mode or PDU mode, one device lock.

Every gateway naming the same device (after resolving symlinks) shares one `_Device`: its
lock, its open connection and what the modem was last told (AT+CMGF, AT+CSCS, AT+CSCA).
The connection is opened on the first send and closed when the last provider that used it
is closed (a reference count), so closing one gateway never cuts off another. The first
gateway to open a device sets its BAUDRATE.

A timeout aborts the prompt with ESC; the next send first discards input until the modem
falls quiet, then initialises it again. So does any error that is not the network's verdict
on the message, since it may mean the modem rebooted and lost its settings.
"""

from __future__ import annotations

import asyncio
import os
import random
from typing import Literal

import serial_asyncio
from pydantic import Field

from providers import gsm_pdu
from providers.base import (
    OutcomeUnknown,
    Provider,
    ProviderOptions,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    SendResult,
    TemporaryFailure,
    TimedOut,
    Unreachable,
    secret_field,
)
from providers.registry import registry

CTRL_Z, ESC = b"\x1a", b"\x1b"
_QUIET = 0.05  # seconds without input that end a resync: late replies have arrived by then


def _network_verdict(code: str) -> bool:
    """Whether an error code is the network's answer, which leaves the modem as it was."""
    family, _, number = code.partition("_")
    return family == "cms" and number.isdigit() and (int(number) < 300 or number in ("331", "332"))


def modem_error(line: str, command: str) -> SendError:
    """The SendError for a final error line: +CMS ERROR / +CME ERROR with its code, or ERROR."""
    kind, _, detail = line.partition(" ERROR:")
    detail = detail.strip()
    if not detail:
        return RejectedByGateway("error", f"modem answered ERROR to {command}")
    family: Literal["cms", "cme"] = "cms" if kind == "+CMS" else "cme"
    if not (detail.isascii() and detail.isdigit()):
        return RejectedByGateway(family, f"modem: {line} (to {command})")
    code = int(detail)
    meaning, retryable = gsm_pdu.error_cause(family, code)
    kind_of: type[SendError] = RejectedByGateway
    if retryable:
        kind_of = TemporaryFailure
    elif gsm_pdu.rejects_number(family, code):
        kind_of = RejectedNumber
    return kind_of(f"{family}_{detail}", f"modem: {line} ({meaning}) to {command}")


class GsmModemOptions(ProviderOptions):
    PORT: str = Field(min_length=1, description="Serial device of the modem, e.g. /dev/ttyUSB2")
    BAUDRATE: int = Field(115200, gt=0, description="Serial speed in bit/s")
    PIN: str | None = secret_field(
        pattern=r"^[0-9]{4,8}$", description="SIM PIN, sent when the modem asks for it"
    )
    SMSC: str | None = Field(
        None, pattern=r"^\+?[0-9]{3,20}$", description="SMS centre number (AT+CSCA); default: SIM's"
    )
    MODE: Literal["text", "pdu", "auto"] = Field(
        "auto", description="auto: text mode for one plain GSM-7 SMS, PDU mode otherwise"
    )
    TIMEOUT: float = Field(10.0, gt=0, le=300, description="Seconds per AT command")


class _Link:
    """Line-oriented AT conversation over one open serial connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.loop = asyncio.get_running_loop()
        self.buffer = bytearray()
        self.seconds = 10.0  # per command; set by each send, as gateways may differ

    @property
    def alive(self) -> bool:
        return not (self.writer.is_closing() or self.reader.at_eof() or self.reader.exception())

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def _next(self, prompt: bool) -> str:
        """The next non-empty line, or ">" for the message prompt when `prompt`."""
        while True:
            start = 0
            while start < len(self.buffer) and self.buffer[start] in b"\r\n ":
                start += 1
            del self.buffer[:start]
            if prompt and self.buffer.startswith(b">"):
                del self.buffer[:1]
                return ">"
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = self.buffer[:end].decode("latin-1").strip()
                del self.buffer[: end + 1]
                if line:
                    return line
                continue
            chunk = await self.reader.read(1024)
            if not chunk:
                raise ConnectionResetError("serial connection closed")
            self.buffer += chunk

    async def _until(self, command: str, *, prompt: bool, expect: str = "") -> list[str]:
        # Anything but our answer is unsolicited (RING, +CMTI, ^BOOT...) or an echo: skipped.
        # A stray OK while waiting for the prompt is a late answer to something abandoned.
        found: list[str] = []
        async with asyncio.timeout(self.seconds):
            while True:
                line = await self._next(prompt)
                if (line == ">" and prompt) or (line == "OK" and not prompt):
                    return found
                if line == "ERROR" or line.startswith(("+CMS ERROR:", "+CME ERROR:")):
                    raise modem_error(line, command)
                if expect and line.startswith(expect):
                    found.append(line.removeprefix(expect).strip())

    async def command(self, command: str, expect: str = "") -> list[str]:
        """Send one command line; the `expect` lines of its answer, once it ends in OK."""
        self.write(command.encode("ascii") + b"\r")
        return await self._until(command, prompt=False, expect=expect)

    async def submit(self, command: str, body: bytes) -> str:
        """AT+CMGS: wait for the prompt, type the body, return the message reference."""
        self.write(command.encode("ascii") + b"\r")
        await self._until(command, prompt=True)
        self.write(body + CTRL_Z)
        refs = await self._until(command, prompt=False, expect="+CMGS:")
        return refs[0] if refs else ""

    async def resync(self) -> None:
        """Leave any half-typed message and discard input until the modem falls quiet."""
        self.write(ESC)
        self.buffer.clear()
        async with asyncio.timeout(self.seconds):
            while True:
                try:
                    async with asyncio.timeout(_QUIET):
                        chunk = await self.reader.read(1024)
                except TimeoutError:
                    return
                if not chunk:
                    raise ConnectionResetError("serial connection closed")

    def close(self) -> None:
        transport = self.writer.transport
        if self.loop.is_closed():
            # The transport can no longer schedule its own close: close the port itself.
            port = transport.get_extra_info("serial")
            if port is not None:
                port.close()
        else:
            transport.close()


class _Device:
    """One serial device in this process: lock, connection and the modem's current settings."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.loop = asyncio.get_running_loop()
        self.lock = asyncio.Lock()
        self.users = 0
        self.link: _Link | None = None
        self.ready = False
        self.cmgf: int | None = None
        self.cscs: str | None = None
        self.smsc: str | None = None
        self.rejected_pin: str | None = None
        self.concat_ref = random.randrange(256)

    async def prepare(self, options: GsmModemOptions, text_mode: bool) -> _Link:
        """The connection, opened and initialised if need be, set up for this message format."""
        if self.link is None or not self.link.alive:
            self.drop()
            reader, writer = await serial_asyncio.open_serial_connection(
                url=self.path, baudrate=options.BAUDRATE, loop=self.loop
            )
            self.link = _Link(reader, writer)
        link = self.link
        link.seconds = options.TIMEOUT
        if not self.ready:
            await self._initialise(link, options)
        cmgf = 1 if text_mode else 0
        if self.cmgf != cmgf:
            await link.command(f"AT+CMGF={cmgf}")
            self.cmgf = cmgf
        if text_mode and self.cscs != "GSM":
            await link.command('AT+CSCS="GSM"')
            self.cscs = "GSM"
        if options.SMSC and self.smsc != options.SMSC:
            kind = 145 if options.SMSC.startswith("+") else 129
            await link.command(f'AT+CSCA="{options.SMSC}",{kind}')
            self.smsc = options.SMSC
        return link

    async def _initialise(self, link: _Link, options: GsmModemOptions) -> None:
        await link.resync()
        self.cmgf = self.cscs = self.smsc = None
        await link.command("ATE0")
        await link.command("AT+CMEE=1")
        state = await link.command("AT+CPIN?", expect="+CPIN:")
        status = state[0] if state else "READY"
        if status == "SIM PIN":
            if not options.PIN:
                raise RejectedByGateway(
                    "pin_required", f"the SIM in {self.path} needs a PIN; none is set"
                )
            if self.rejected_pin == options.PIN:
                # Three wrong tries lock the SIM: never repeat a PIN it has refused.
                raise RejectedByGateway(
                    "pin_rejected", f"the SIM in {self.path} refused this PIN before"
                )
            try:
                await link.command(f'AT+CPIN="{options.PIN}"')
            except SendError as exc:
                if exc.code == "cme_16":
                    self.rejected_pin = options.PIN
                raise
        elif status != "READY":
            raise RejectedByGateway("sim_locked", f"the SIM in {self.path} asks for {status}")
        self.ready = True

    def abort(self) -> None:
        """A command was abandoned: leave the message prompt now, re-initialise next time."""
        self.ready = False
        if self.link is not None and self.link.alive:
            self.link.write(ESC)

    def drop(self) -> None:
        """Close the connection; the next send opens and initialises it again."""
        link, self.link, self.ready = self.link, None, False
        if link is not None:
            link.close()


# One lock per serial device, not per gateway: two gateways may share a modem, and
# interleaved AT commands corrupt both messages. Per process and event loop.
_devices: dict[str, _Device] = {}


def _device_for(port: str) -> _Device:
    path = port if "://" in port else os.path.realpath(port)
    device = _devices.get(path)
    if device is None or device.loop is not asyncio.get_running_loop():
        if device is not None:  # left behind by an event loop that has finished
            device.drop()
        device = _devices[path] = _Device(path)
    return device


@registry.register("providers.gsm_modem.GsmModemProvider")
class GsmModemProvider(Provider[GsmModemOptions]):
    """Send through a GSM modem on a serial port."""

    options_model = GsmModemOptions
    description = "GSM modem on a serial port: AT commands, text or PDU mode, long messages"

    _device: _Device | None = None

    def _attach(self) -> _Device:
        device = _device_for(self.options.PORT)
        if device is not self._device:
            if self._device is not None:
                self._device.users -= 1
            device.users += 1
            self._device = device
        return device

    def _plan(self, device: _Device, number: str, message: str) -> bytes | list[gsm_pdu.Pdu]:
        """The text-mode body, or the PDUs, with which `message` goes out."""
        text = gsm_pdu.text_mode_bytes(message)
        if self.options.MODE == "text" and text is None:
            raise RejectedByGateway(
                "text_mode",
                "MODE=text carries one SMS of plain GSM-7 characters only; use MODE=auto",
            )
        if text is not None and self.options.MODE != "pdu":
            return text
        # Taken before the lock: two long messages waiting for the modem get distinct references.
        device.concat_ref = (device.concat_ref + 1) % 256
        return gsm_pdu.submit_pdus(number, message, device.concat_ref)

    async def send(self, phone: str, message: str) -> SendResult:
        number = self.phone_for(phone)
        try:
            gsm_pdu.encode_number(number)
        except ValueError as exc:
            raise RejectedNumber("invalid", str(exc)) from None
        try:
            device = self._attach()
            plan = self._plan(device, number, message)
        except ValueError as exc:
            raise RejectedByGateway("invalid", str(exc)) from None
        timeout = self.options.TIMEOUT
        async with device.lock:
            submitting = False
            try:
                link = await device.prepare(self.options, isinstance(plan, bytes))
                submitting = True
                if isinstance(plan, bytes):
                    refs = [await link.submit(f'AT+CMGS="{number}"', plan)]
                else:
                    refs = []
                    for pdu in plan:
                        refs.append(await link.submit(f"AT+CMGS={pdu.length}", pdu.hex.encode()))
            except TimeoutError:
                device.abort()
                raise TimedOut(
                    "timeout", f"{device.path} did not answer within {timeout:g} s"
                ) from None
            except OSError as exc:
                device.drop()
                if submitting:  # AT+CMGS went out: the message may have gone with it
                    raise OutcomeUnknown("serial", f"{device.path}: {exc}") from None
                raise Unreachable("serial", f"{device.path}: {exc}") from None
            except SendError as exc:
                if not _network_verdict(exc.code):
                    device.ready = False  # e.g. a modem that rebooted and forgot PIN and mode
                raise
            except asyncio.CancelledError:
                device.abort()
                raise
        return SendResult(message_ids=refs, parts=len(refs), raw_status="+CMGS: " + ",".join(refs))

    async def aclose(self) -> None:
        device, self._device = self._device, None
        if device is None:
            return
        device.users -= 1
        if device.users == 0:
            async with device.lock:  # let a send already holding the device finish
                if device.users == 0:
                    device.drop()
