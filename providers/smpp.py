"""SMPP 3.4 ESME on asyncio streams, with the PDU codec of smpp_pdu.py.

Each gateway keeps one bound session (smpp_session.py) and reuses it across sends. Sends
share it concurrently: each request carries a sequence number and its response is matched
to it by a reader task, so a slow SMSC answer holds up only its own message. When the
connection drops, the messages in flight fail (their outcome unknown: the SMSC may have
taken them) and the next send binds again. Every path that fails after the connection
opened closes it.

With REGISTERED_DELIVERY every submit_sm asks for a receipt, the session binds as a
transceiver (or, with BIND=transmitter, a second session binds as a receiver), and
`listen()` keeps the receiving session bound until `aclose`. Each receipt is acknowledged
by the session and handed to the service from a task of its own, so a slow or failing
service never holds up the reader.

No Python SMPP library fitted: smpplib blocks on its socket, the asyncio ones are
unmaintained, and an ESME needs only a handful of PDUs.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

from providers import smpp_pdu as pdu
from providers import smpp_receipt
from providers.base import (
    OutcomeUnknown,
    Provider,
    Receipt,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    SendResult,
    TemporaryFailure,
    Throttled,
    timed_out,
    unreachable,
)
from providers.registry import registry
from providers.smpp_options import PRINTABLE_ASCII, SmppOptions
from providers.smpp_session import CONNECTION_LOST, NotSent, Session

log = logging.getLogger("smsgw.providers.smpp")
T = TypeVar("T")


@registry.register(
    "providers.smpp.SmppProvider",
    aliases=("privacyidea.lib.smsprovider.SmppSMSProvider.SmppSMSProvider",),
)
class SmppProvider(Provider[SmppOptions]):
    """Send through an SMSC over SMPP 3.4, and receive its delivery receipts."""

    options_model = SmppOptions
    description = (
        "SMPP 3.4: one bound session per gateway, long messages split, delivery receipts "
        "with REGISTERED_DELIVERY"
    )

    ENQUIRE_LINK_INTERVAL = 30.0
    RETRY_DELAYS = (0.1, 0.2, 0.4, 0.8, 1.6)  # after ESME_RTHROTTLED or ESME_RMSGQFUL
    REBIND_DELAYS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # listen(): the last one repeats
    REPORTS_AT_ONCE = 8  # receipts handed to the service concurrently
    REPORT_GRACE = 5.0  # seconds aclose lets receipts already taken reach the service

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # "both" for a transceiver; "send" and "receive" for a transmitter and a receiver.
        self._sessions: dict[str, Session] = {}
        self._binding: dict[str, asyncio.Lock] = {}
        self._reports: set[asyncio.Task[None]] = set()
        self._report_slots = asyncio.Semaphore(self.REPORTS_AT_ONCE)
        self._stopping = asyncio.Event()
        self._listeners = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def receives_receipts(self) -> bool:
        return self.options.REGISTERED_DELIVERY == "yes"

    def _slot(self, role: Literal["send", "receive"]) -> tuple[str, int]:
        if self.options.bind_mode == "transceiver":
            return "both", pdu.BIND_TRANSCEIVER
        if role == "send":
            return "send", pdu.BIND_TRANSMITTER
        return "receive", pdu.BIND_RECEIVER

    async def _bound(self, role: Literal["send", "receive"] = "send") -> Session:
        key, command = self._slot(role)
        lock = self._binding.setdefault(key, asyncio.Lock())
        async with lock:  # one bind at a time, however many sends wait for it
            session = self._sessions.get(key)
            if session is not None and not session.closed.is_set():
                return session
            session = await self._bind(command)
            self._sessions[key] = session
            return session

    async def _bind(self, command: int) -> Session:
        options = self.options
        try:  # encoded before connecting, so that a bind that cannot be sent opens nothing
            bind = pdu.bind(
                command,
                0,
                options.SYSTEM_ID,
                options.PASSWORD or "",
                options.SYSTEM_TYPE,
                options.S_ADDR_TON,
                options.S_ADDR_NPI,
            )
        except (pdu.PduError, UnicodeError) as exc:
            raise RejectedByGateway("bind_options", f"the bind cannot be encoded: {exc}") from None
        try:
            reader, writer = await asyncio.open_connection(options.SMSC_HOST, options.SMSC_PORT)
        except OSError as exc:
            raise unreachable(
                f"{options.SMSC_HOST}:{options.SMSC_PORT}: {exc.strerror or exc}"
            ) from None
        session = Session(reader, writer, self._delivered)
        try:
            session.start(self.ENQUIRE_LINK_INTERVAL)
            answer = await session.request(command, bind.body)
        except ConnectionError:
            await session.abort()
            raise unreachable(f"{CONNECTION_LOST} while binding") from None
        except BaseException:
            await session.abort()
            raise
        if answer.status:
            await session.abort()
            raise _bind_error(answer.status, options.SYSTEM_ID)
        return session

    async def send(self, phone: str, message: str) -> SendResult:
        options = self.options
        number = self.phone_for(phone).lstrip("+")
        if not number or len(number) > 20 or not set(number) <= PRINTABLE_ASCII:
            raise RejectedNumber(
                "invalid_number", "the destination is not an SMPP address (ASCII, 20 at most)"
            )
        destination = pdu.Address(options.D_ADDR_TON, options.D_ADDR_NPI, number)
        source = pdu.Address(options.S_ADDR_TON, options.S_ADDR_NPI, options.S_ADDR)
        registered = pdu.REGISTERED_DELIVERY if self.receives_receipts else 0
        try:
            data_coding, parts = pdu.short_messages(message, random.randrange(256))
            bodies = [
                pdu.SubmitSm(source, destination, esm_class, data_coding, short_message, registered)
                .pdu(0)
                .body
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
        except NotSent:
            if ids:
                raise OutcomeUnknown(
                    "connection_lost", f"{CONNECTION_LOST} after part {len(ids)}"
                ) from None
            raise unreachable(CONNECTION_LOST) from None
        except ConnectionError:
            if written:
                raise OutcomeUnknown("connection_lost", CONNECTION_LOST) from None
            raise unreachable(CONNECTION_LOST) from None
        # In the form a receipt's id is brought to, so that the service matches by equality.
        ids = [smpp_receipt.submit_form(message_id, options.RECEIPT_ID) for message_id in ids]
        return SendResult(message_ids=ids, parts=len(parts), raw_status="ESME_ROK")

    async def _submit(self, session: Session, body: bytes) -> str:
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

    def _delivered(self, request: pdu.Pdu) -> None:
        """A deliver_sm the session has answered: a receipt goes on to the service."""
        gateway = self.context.gateway or "?"
        try:
            deliver = pdu.DeliverSm.parse(request.body)
        except pdu.PduError as exc:
            self.reject_report(f"deliver_sm unreadable: {exc}")
            return
        if not deliver.is_receipt:
            log.debug("%s: a mobile-originated deliver_sm, ignored", gateway)
            return
        try:
            receipt = smpp_receipt.read(deliver, self.options.RECEIPT_ID)
        except smpp_receipt.UnreadableReceipt as exc:
            self.reject_report(str(exc))
            return
        task = asyncio.get_running_loop().create_task(self._hand_on(receipt))
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _hand_on(self, receipt: Receipt) -> None:
        async with self._report_slots:
            try:
                await self.report(receipt)
            except Exception as exc:  # the service's trouble; the next receipt may fare better
                log.error(
                    "%s: the receipt for %s was not taken: %s",
                    self.context.gateway or "?",
                    receipt.provider_id,
                    type(exc).__name__,
                )

    async def listen(self) -> None:
        if not self.receives_receipts:
            return
        self._listeners += 1
        self._idle.clear()
        try:
            failures = 0
            while not self._stopping.is_set():
                try:
                    session = await self._unless_stopping(self._bound_in_time())
                except Exception as exc:  # whatever it was, the receipts still need a session
                    delay = self.REBIND_DELAYS[min(failures, len(self.REBIND_DELAYS) - 1)]
                    failures += 1
                    code = exc.code if isinstance(exc, SendError) else type(exc).__name__
                    log.warning(
                        "%s: no SMPP session for receipts (%s), binding again in %g s",
                        self.context.gateway or "?",
                        code,
                        delay,
                    )
                    await self._unless_stopping(asyncio.sleep(delay))
                    continue
                if session is None:
                    break
                failures = 0
                await self._unless_stopping(session.closed.wait())
                if not self._stopping.is_set():
                    log.info("%s: SMPP session for receipts lost", self.context.gateway or "?")
                    await self._unless_stopping(asyncio.sleep(self.REBIND_DELAYS[0]))
        finally:
            self._listeners -= 1
            if not self._listeners:
                self._idle.set()

    async def _bound_in_time(self) -> Session:
        async with asyncio.timeout(self.options.TIMEOUT):
            return await self._bound("receive")

    async def _unless_stopping(self, work: Coroutine[Any, Any, T]) -> T | None:
        """The result of `work`, or None (`work` cancelled) once aclose has begun."""
        task = asyncio.ensure_future(work)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait((task, stop), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in (task, stop):
                waiting.cancel()
            await asyncio.gather(task, stop, return_exceptions=True)
        if task.cancelled():
            return None
        return task.result()

    async def aclose(self) -> None:
        self._stopping.set()
        await self._idle.wait()  # every listen() has returned
        sessions = {id(session): session for session in self._sessions.values()}
        self._sessions.clear()
        for session in sessions.values():
            await session.close()
        if self._reports:  # the receipts already acknowledged get a moment to land
            _, late = await asyncio.wait(set(self._reports), timeout=self.REPORT_GRACE)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._stopping.clear()


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
