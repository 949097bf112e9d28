"""A GSM modem on a pseudo-terminal, in the caller's event loop.

It answers the AT commands a sender needs, decodes the text or PDUs it is given (with its
own PDU parser: only the alphabet tables are shared with the code under test), reassembles
concatenated parts, and records every command and every overlap of two commands.
"""

from __future__ import annotations

import asyncio
import os
import tty
from dataclasses import dataclass, field
from typing import Literal

from providers.gsm_pdu import ESC, GSM7_BASIC, GSM7_EXTENSION

CTRL_Z, CR = 0x1A, 0x0D
Mode = Literal["text", "pdu"]
Encoding = Literal["gsm7", "ucs2"]


@dataclass
class Submission:
    """One AT+CMGS as the modem understood it."""

    number: str
    text: str
    mode: Mode
    encoding: Encoding
    concat: tuple[int, int, int] | None = None  # (reference, total, sequence) from the UDH
    ref: int = -1


@dataclass
class Sent:
    """One message as the recipient would see it, its parts reassembled."""

    number: str
    text: str
    parts: list[str]
    refs: list[int]  # +CMGS references, one per part
    mode: Mode
    encoding: Encoding
    smsc: str | None


def _number(data: bytes, digits: int, kind: int) -> str:
    nibbles = "".join(f"{byte & 0x0F:X}{byte >> 4:X}" for byte in data)[:digits]
    return ("+" if kind == 0x91 else "") + nibbles.replace("A", "*").replace("B", "#")


def _gsm7(septets: list[int]) -> str:
    text, escaped = [], False
    for septet in septets:
        if escaped:
            text.append(GSM7_EXTENSION[septet])
            escaped = False
        elif septet == ESC:
            escaped = True
        else:
            text.append(GSM7_BASIC[septet])
    return "".join(text)


def decode_submit(hex_pdu: str, length: int) -> Submission:
    """Parse an SMS-SUBMIT PDU (with its SMSC field) as typed after AT+CMGS=<length>."""
    pdu = bytes.fromhex(hex_pdu)
    tpdu = pdu[1 + pdu[0] :]
    if len(tpdu) != length:
        raise ValueError(f"AT+CMGS={length} but the TPDU has {len(tpdu)} octets")
    first = tpdu[0]
    if first & 0x03 != 0x01:
        raise ValueError(f"not an SMS-SUBMIT: first octet {first:02X}")
    digits, kind = tpdu[2], tpdu[3]
    at = 4 + (digits + 1) // 2
    number = _number(tpdu[4:at], digits, kind)
    dcs = tpdu[at + 1]
    at += 2 + {0: 0, 2: 1}.get((first >> 3) & 0x03, 7)  # TP-PID, TP-DCS, TP-VP
    count, data = tpdu[at], tpdu[at + 1 :]
    concat, header_octets = None, 0
    if first & 0x40:
        header_octets = data[0] + 1
        iei, ie = data[1], data[3 : 3 + data[2]]
        if iei == 0x00:
            concat = (ie[0], ie[1], ie[2])
    if dcs == 0x08:
        text = data[header_octets:count].decode("utf-16-be")
        return Submission(number, text, "pdu", "ucs2", concat)
    if dcs != 0x00:
        raise ValueError(f"unexpected TP-DCS {dcs:02X}")
    bits = "".join(f"{byte:08b}"[::-1] for byte in data)  # least significant bit first
    septets = [int(bits[7 * i : 7 * i + 7][::-1], 2) for i in range(count)]
    skip = (header_octets * 8 + 6) // 7  # the header, padded to a septet boundary
    return Submission(number, _gsm7(septets[skip:]), "pdu", "gsm7", concat)


@dataclass
class ModemEmulator:
    """A modem on a pty: set the knobs, start it, give a provider `path`, read the records."""

    delay: float = 0.0  # seconds between a message's Ctrl-Z and the modem's +CMGS answer
    pin: str | None = None  # the SIM asks for this PIN first
    unsolicited: list[str] = field(default_factory=list)  # sent before every answer
    cms_errors: list[int] = field(default_factory=list)  # the next messages fail with these
    stall: int = 0  # the next messages are taken but never answered
    silent: bool = False  # no answer to anything
    commands: list[str] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    interleave_errors: list[str] = field(default_factory=list)
    protocol_errors: list[str] = field(default_factory=list)
    escapes: int = 0
    path: str = ""

    def start(self) -> ModemEmulator:
        self._loop = asyncio.get_running_loop()
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: bytes arrive as written
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)  # the emulator keeps the slave open: no EIO
        self._inbox, self._outbox, self._body = bytearray(), bytearray(), bytearray()
        self._writing = False
        self._busy: str | None = None  # the command being processed
        self._entry: str | None = None  # the AT+CMGS whose message is being typed
        self._serial = 0
        self._timers: list[asyncio.TimerHandle] = []
        self._partial: dict[tuple[str, int], dict[int, tuple[str, int]]] = {}
        self.next_ref = 0
        self._power_on()
        self._loop.add_reader(self._master, self._readable)
        return self

    def _power_on(self) -> None:
        self.echo, self.cmee, self.cmgf, self.charset = True, 0, 0, "IRA"
        self.unlocked = self.pin is None
        self.smsc: str | None = None

    def reboot(self) -> None:
        """Forget all a host has set, PIN entry included, as a power cycle does."""
        self._power_on()
        self._busy = self._entry = None
        self._body.clear()
        self.inject("RDY", "+CFUN: 1", "+CPIN: SIM PIN" if self.pin else "+CPIN: READY")

    def stop(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._loop.remove_reader(self._master)
        self._loop.remove_writer(self._master)
        os.close(self._master)
        os.close(self._slave)

    async def __aenter__(self) -> ModemEmulator:
        return self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()

    def inject(self, *lines: str) -> None:
        """Send unsolicited lines now."""
        self._write("".join(f"\r\n{line}\r\n" for line in lines).encode("latin-1"))

    def _write(self, data: bytes) -> None:
        self._outbox += data
        self._flush()

    def _flush(self) -> None:
        try:
            written = os.write(self._master, self._outbox)
        except BlockingIOError:
            written = 0
        del self._outbox[:written]
        if self._outbox and not self._writing:
            self._loop.add_writer(self._master, self._flush)
        elif not self._outbox and self._writing:
            self._loop.remove_writer(self._master)
        self._writing = bool(self._outbox)

    def _answer(self, *lines: str) -> None:
        if not self.silent:
            self.inject(*self.unsolicited, *lines)

    def _readable(self) -> None:
        try:
            self._inbox += os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        while self._inbox and self._step():
            pass

    def _step(self) -> bool:
        """Consume one unit of input (a command line, a message, an ESC); False: need more."""
        if self._entry is not None:
            ends = [i for i in map(self._inbox.find, (b"\x1a", b"\x1b", b"\r")) if i >= 0]
            if not ends:
                return False
            end = min(ends)
            mark = self._inbox[end]
            self._body += self._inbox[:end]
            del self._inbox[: end + 1]
            if mark == CR:
                typed = bytes(self._body)
                self.interleave_errors.append(
                    f"a line came while {self._entry!r} was typed: {typed!r}"
                )
            elif mark == ESC:
                self.escapes += 1
                self._entry = self._busy = None
                self._body.clear()
            else:
                command, self._entry = self._entry, None
                body, self._body = bytes(self._body), bytearray()
                self._submit(command, body)
            return True
        end = self._inbox.find(b"\r")
        head = self._inbox if end < 0 else self._inbox[:end]
        if ESC in head:  # the host gave up on whatever was in progress
            self.escapes += head.count(ESC)
            self._busy = None
            self._inbox[:] = self._inbox.replace(b"\x1b", b"", head.count(ESC))
            return True
        if end < 0:
            return False
        line = self._inbox[:end].replace(b"\n", b"").decode("latin-1").strip()
        del self._inbox[: end + 1]
        if line:
            self._command(line)
        return True

    def _error(self, code: str) -> None:
        self._busy = None
        self._answer(code if self.cmee else "ERROR")

    def _command(self, line: str) -> None:
        self.commands.append(line)
        if self.echo:
            self._write(line.encode("latin-1") + b"\r")
        if self._busy is not None:
            self.interleave_errors.append(f"{line!r} came while {self._busy!r} was in progress")
        if self.silent:
            return
        command, _, argument = line.upper().partition("=")
        value = line.partition("=")[2].strip().strip('"')
        if command in ("ATE0", "ATE1"):
            self.echo = command == "ATE1"
        elif command == "AT+CMEE":
            self.cmee = int(value)
        elif command == "AT+CPIN?":
            self._answer("+CPIN: READY" if self.unlocked else "+CPIN: SIM PIN")
        elif command == "AT+CPIN" and not self.unlocked:
            if value != self.pin:
                return self._error("+CME ERROR: 16")
            self.unlocked = True
        elif command == "AT+CMGF" and value in ("0", "1"):
            self.cmgf = int(value)
        elif command == "AT+CSCS":
            self.charset = value
        elif command == "AT+CSCA":
            self.smsc = value.split(",")[0].strip('"')
        elif command == "AT+CMGS":
            return self._begin(line, argument)
        elif command != "AT":
            return self._error("+CME ERROR: 4")
        self._answer("OK")

    def _begin(self, line: str, argument: str) -> None:
        if not self.unlocked:
            return self._answer("+CMS ERROR: 311")
        self._serial += 1
        self._busy = self._entry = f"#{self._serial} {line}"
        self._write("".join(f"\r\n{u}\r\n" for u in self.unsolicited).encode() + b"\r\n> ")

    def _submit(self, command: str, body: bytes) -> None:
        argument = command.partition("=")[2]
        try:
            if self.cmgf == 1:
                if self.charset != "GSM" or any(byte > 0x7F for byte in body):
                    raise ValueError(f"text mode with charset {self.charset}: {body!r}")
                number = argument.split(",")[0].strip('"')
                submission = Submission(number, _gsm7(list(body)), "text", "gsm7")
            else:
                submission = decode_submit(body.decode("ascii"), int(argument))
        except (ValueError, KeyError, IndexError) as exc:
            self.protocol_errors.append(f"{command}: {exc}")
            return self._error("+CMS ERROR: 305" if self.cmgf else "+CMS ERROR: 304")
        if self.stall > 0:
            self.stall -= 1  # busy until the host gives up with ESC
            return

        def finish() -> None:
            if self._busy == command:
                self._busy = None
            if self.cms_errors:
                return self._answer(f"+CMS ERROR: {self.cms_errors.pop(0)}")
            submission.ref, self.next_ref = self.next_ref, (self.next_ref + 1) % 256
            self._record(submission)
            self._answer(f"+CMGS: {submission.ref}", "OK")

        if self.delay:
            self._timers = [t for t in self._timers if not t.cancelled()]
            self._timers.append(self._loop.call_later(self.delay, finish))
        else:
            finish()

    def _record(self, sub: Submission) -> None:
        self.submissions.append(sub)
        if sub.concat is None:
            parts = [(sub.text, sub.ref)]
        else:
            reference, total, seq = sub.concat
            pending = self._partial.setdefault((sub.number, reference), {})
            if seq in pending or not 1 <= seq <= total:
                self.protocol_errors.append(f"part {seq} of {total} (ref {reference}) again")
            pending[seq] = (sub.text, sub.ref)
            if len(pending) < total:
                return
            del self._partial[(sub.number, reference)]
            parts = [pending[i] for i in sorted(pending)]
        texts = [text for text, _ in parts]
        refs = [ref for _, ref in parts]
        self.sent.append(
            Sent(sub.number, "".join(texts), texts, refs, sub.mode, sub.encoding, self.smsc)
        )
