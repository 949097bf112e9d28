"""SMPP 3.4 transmitter on asyncio streams, with the PDU codec of smpp_pdu.py.

Each gateway keeps one bound transmitter session and reuses it across sends. Sends share
it concurrently: each request carries a sequence number and its response is matched to it
by a reader task, so a slow SMSC answer holds up only its own message. An enquire_link
every ENQUIRE_LINK_INTERVAL seconds keeps the session alive (and finds a dead one); the
SMSC's own enquire_link and unbind are answered. When the connection drops, the messages
in flight fail (their outcome unknown: the SMSC may have taken them) and the next send
binds again. Every path that fails after the connection opened closes it.

No Python SMPP library fitted: smpplib blocks on its socket, the asyncio ones are
unmaintained, and a transmitter needs only five PDUs.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from typing import Any

from pydantic import Field, field_validator

from providers import smpp_pdu as pdu
from providers.base import (
    OutcomeUnknown,
    Provider,
    ProviderOptions,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    SendResult,
    TemporaryFailure,
    Throttled,
    secret_field,
    timed_out,
    unreachable,
)
from providers.registry import registry

log = logging.getLogger("smsgw.providers.smpp")
_CONNECTION_LOST = "connection to the SMSC lost"
# C-octet strings are ASCII without NUL (SMPP 3.4 3.1); the address characters printable.
_PRINTABLE_ASCII = frozenset(chr(code) for code in range(0x20, 0x7F))


class _NotSent(ConnectionError):
    """The session was closed before the request was written: the SMSC never saw it."""


def _ascii(value: str | None) -> str | None:
    if value and not set(value) <= _PRINTABLE_ASCII:
        raise ValueError("must be printable ASCII (SMPP C-octet string)")
    return value


# How _ascii and _hexadecimal read on the wire, for the gateway schema of the document.
_ASCII: dict[str, Any] = {"x-wire-pattern": r"^[\x20-\x7e]*$"}
# Hexadecimal text up to 0xFF; a JSON integer is read as its digits, so 0..99.
_HEX: dict[str, Any] = {
    "x-wire": {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 99},
            {"type": "string", "pattern": "^(?:0[xX])?[0-9A-Fa-f]{1,2}$"},
        ]
    }
}


class SmppOptions(ProviderOptions):
    SMSC_HOST: str = Field(min_length=1, description="Host name or address of the SMSC")
    SMSC_PORT: int = Field(2775, gt=0, lt=65536, description="SMPP port of the SMSC")
    SYSTEM_ID: str = Field(
        min_length=1,
        max_length=15,
        description="ESME account (system_id)",
        json_schema_extra=_ASCII,
    )
    PASSWORD: str | None = secret_field(
        max_length=8, description="ESME password (8 octets max)", json_schema_extra=_ASCII
    )
    SYSTEM_TYPE: str = Field(
        "",
        max_length=12,
        description="system_type, if the SMSC wants one",
        json_schema_extra=_ASCII,
    )
    S_ADDR: str = Field(
        "", max_length=20, description="Source address (sender)", json_schema_extra=_ASCII
    )
    S_ADDR_TON: int = Field(
        0, ge=0, le=0xFF, description="Source TON, hex as privacyIDEA: 0x5", json_schema_extra=_HEX
    )
    S_ADDR_NPI: int = Field(
        0, ge=0, le=0xFF, description="Source NPI, hex: 0x0", json_schema_extra=_HEX
    )
    D_ADDR_TON: int = Field(
        1, ge=0, le=0xFF, description="Destination TON, hex: 0x1", json_schema_extra=_HEX
    )
    D_ADDR_NPI: int = Field(
        1, ge=0, le=0xFF, description="Destination NPI, hex: 0x1", json_schema_extra=_HEX
    )
    TIMEOUT: float = Field(10.0, gt=0, le=300, description="Seconds for a send, binding included")

    # Refused at save: a value the bind or submit_sm cannot carry would fail every send.
    _ascii_only = field_validator("SYSTEM_ID", "PASSWORD", "SYSTEM_TYPE", "S_ADDR")(_ascii)

    @field_validator("S_ADDR_TON", "S_ADDR_NPI", "D_ADDR_TON", "D_ADDR_NPI", mode="before")
    @classmethod
    def _hexadecimal(cls, value: Any) -> Any:
        # privacyIDEA reads these as hexadecimal ("0x5", "5", "12" = 0x12): so do we.
        if isinstance(value, str):
            try:
                return int(value, 16)
            except ValueError:
                raise ValueError("must be a hexadecimal number such as 0x1") from None
        return value


class _Session:
    """One bound transmitter: a reader task matching responses to requests by sequence."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.pending: dict[int, asyncio.Future[pdu.Pdu]] = {}
        self.sequences = itertools.count(1)
        self.closed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, keepalive: float) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._read()), loop.create_task(self._keepalive(keepalive))]

    async def request(self, command_id: int, body: bytes = b"") -> pdu.Pdu:
        if self.closed.is_set():
            raise _NotSent(_CONNECTION_LOST)
        sequence = next(self.sequences)
        answer: asyncio.Future[pdu.Pdu] = asyncio.get_running_loop().create_future()
        self.pending[sequence] = answer
        try:
            self.writer.write(pdu.Pdu(command_id, 0, sequence, body).encode())
            await self.writer.drain()
            return await answer
        finally:
            self.pending.pop(sequence, None)

    def _answer(self, request: pdu.Pdu, status: int = 0) -> None:
        command = pdu.GENERIC_NACK if status else request.command_id | pdu.RESPONSE
        self.writer.write(pdu.Pdu(command, status, request.sequence).encode())

    async def _read(self) -> None:
        try:
            while True:
                received = await pdu.read_pdu(self.reader)
                if received.command_id & pdu.RESPONSE:
                    waiting = self.pending.get(received.sequence)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(received)
                elif received.command_id == pdu.ENQUIRE_LINK:
                    self._answer(received)
                elif received.command_id == pdu.UNBIND:
                    self._answer(received)
                    await self.writer.drain()
                    break
                else:
                    self._answer(received, status=0x03)  # ESME_RINVCMDID
        except (OSError, asyncio.IncompleteReadError, pdu.PduError) as exc:
            log.info("SMPP session ended: %s", type(exc).__name__)
        finally:
            self._lost()

    async def _keepalive(self, interval: float) -> None:
        while not self.closed.is_set():
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(interval):
                    await self.request(pdu.ENQUIRE_LINK)
            except (OSError, TimeoutError):
                self._lost()

    def _lost(self) -> None:
        self.closed.set()
        for waiting in self.pending.values():
            if not waiting.done():
                waiting.set_exception(ConnectionError(_CONNECTION_LOST))
        self.writer.close()

    async def close(self) -> None:
        if not self.closed.is_set():
            with contextlib.suppress(OSError, TimeoutError, ConnectionError):
                async with asyncio.timeout(1):
                    await self.request(pdu.UNBIND)
        await self.abort()

    async def abort(self) -> None:
        """Close the connection without an unbind: for a session that never got bound."""
        self._lost()
        current = asyncio.current_task()
        for task in self.tasks:
            if task is not current:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


@registry.register(
    "providers.smpp.SmppProvider",
    aliases=("privacyidea.lib.smsprovider.SmppSMSProvider.SmppSMSProvider",),
)
class SmppProvider(Provider[SmppOptions]):
    """Send through an SMSC over SMPP 3.4."""

    options_model = SmppOptions
    description = "SMPP 3.4 transmitter: one bound session per gateway, long messages split"

    ENQUIRE_LINK_INTERVAL = 30.0
    RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8, 1.6)  # after ESME_RTHROTTLED or ESME_RMSGQFUL

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._session: _Session | None = None
        self._binding = asyncio.Lock()

    async def _bound(self) -> _Session:
        async with self._binding:  # one bind at a time, however many sends wait for it
            if self._session is not None and not self._session.closed.is_set():
                return self._session
            options = self.options
            try:  # encoded before connecting, so that a bind that cannot be sent opens nothing
                bind = pdu.bind_transmitter(
                    0,
                    options.SYSTEM_ID,
                    options.PASSWORD or "",
                    options.SYSTEM_TYPE,
                    options.S_ADDR_TON,
                    options.S_ADDR_NPI,
                )
            except (pdu.PduError, UnicodeError) as exc:
                raise RejectedByGateway(
                    "bind_options", f"the bind cannot be encoded: {exc}"
                ) from None
            try:
                reader, writer = await asyncio.open_connection(options.SMSC_HOST, options.SMSC_PORT)
            except OSError as exc:
                raise unreachable(
                    f"{options.SMSC_HOST}:{options.SMSC_PORT}: {exc.strerror or exc}"
                ) from None
            session = _Session(reader, writer)
            try:
                session.start(self.ENQUIRE_LINK_INTERVAL)
                answer = await session.request(pdu.BIND_TRANSMITTER, bind.body)
            except ConnectionError:
                await session.abort()
                raise unreachable(f"{_CONNECTION_LOST} while binding") from None
            except BaseException:
                await session.abort()
                raise
            if answer.status:
                await session.abort()
                raise _bind_error(answer.status, options.SYSTEM_ID)
            self._session = session
            return session

    async def send(self, phone: str, message: str) -> SendResult:
        options = self.options
        number = self.phone_for(phone).lstrip("+")
        if not number or len(number) > 20 or not set(number) <= _PRINTABLE_ASCII:
            raise RejectedNumber(
                "invalid_number", "the destination is not an SMPP address (ASCII, 20 at most)"
            )
        destination = pdu.Address(options.D_ADDR_TON, options.D_ADDR_NPI, number)
        source = pdu.Address(options.S_ADDR_TON, options.S_ADDR_NPI, options.S_ADDR)
        try:
            data_coding, parts = pdu.short_messages(message, random.randrange(256))
            bodies = [
                pdu.SubmitSm(source, destination, esm_class, data_coding, short_message).pdu(0).body
                for esm_class, short_message in parts
            ]
        except ValueError as exc:  # PduError among them
            raise RejectedByGateway("too_long", str(exc)) from None
        ids: list[str] = []
        written = False  # once a submit_sm went out, a lost connection leaves it unknown
        try:
            async with asyncio.timeout(options.TIMEOUT):
                session = await self._bound()
                for body in bodies:
                    written = True
                    ids.append(await self._submit(session, body))
        except TimeoutError:
            raise timed_out(options.TIMEOUT) from None
        except _NotSent:
            if ids:
                raise OutcomeUnknown(
                    "connection_lost", f"{_CONNECTION_LOST} after part {len(ids)}"
                ) from None
            raise unreachable(_CONNECTION_LOST) from None
        except ConnectionError:
            if written:
                raise OutcomeUnknown("connection_lost", _CONNECTION_LOST) from None
            raise unreachable(_CONNECTION_LOST) from None
        return SendResult(message_ids=ids, parts=len(parts), raw_status="ESME_ROK")

    async def _submit(self, session: _Session, body: bytes) -> str:
        """One submit_sm, retried while the SMSC says it is throttling; its message_id."""
        answer = await session.request(pdu.SUBMIT_SM, body)
        for delay in self.RETRY_DELAYS:
            if answer.status not in (pdu.THROTTLED, pdu.QUEUE_FULL):
                break
            await asyncio.sleep(delay)
            answer = await session.request(pdu.SUBMIT_SM, body)
        if answer.status:
            raise _submit_error(answer.status)
        try:
            return pdu.Fields(answer.body).cstring() if answer.body else ""
        except pdu.PduError as exc:
            # The SMSC said ESME_ROK, but not in a form we can read: it may well have sent it.
            raise OutcomeUnknown("bad_response", f"submit_sm_resp: {exc}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _submit_error(status: int) -> SendError:
    """The SendError for a submit_sm_resp with a non-zero command_status."""
    name = pdu.status_name(status)
    message = f"the SMSC refused the message: {name}"
    if status in (pdu.THROTTLED, pdu.QUEUE_FULL):
        return Throttled(name, message)
    if status in pdu.BAD_DESTINATION:
        return RejectedNumber(name, message)
    if status in pdu.TRANSIENT:
        return TemporaryFailure(name, message)
    return RejectedByGateway(name, message)


def _bind_error(status: int, system_id: str) -> SendError:
    name = pdu.status_name(status)
    message = f"the SMSC refused the bind as {system_id}: {name}"
    if status in pdu.TRANSIENT:
        return TemporaryFailure(f"bind_{name}", message)
    return RejectedByGateway(f"bind_{name}", message)
