"""One bound SMPP session on asyncio streams: requests matched to responses by sequence
number, the link kept alive, and whatever the SMSC sends on its own answered.

A reader task takes every PDU off the connection. Responses go to the request waiting for
them; the SMSC's enquire_link and unbind are answered; a deliver_sm is answered with a
deliver_sm_resp at once, whatever it holds, and then handed to `on_deliver`, which must not
block (the provider starts a task for anything slow). Anything else gets a generic_nack.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable

from providers import smpp_pdu as pdu

log = logging.getLogger("smsgw.providers.smpp")
CONNECTION_LOST = "connection to the SMSC lost"


class NotSent(ConnectionError):
    """The session was closed before the request was written: the SMSC never saw it."""


class Session:
    """One bound session: a reader task matching responses to requests by sequence."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_deliver: Callable[[pdu.Pdu], None],
    ) -> None:
        self.reader, self.writer = reader, writer
        self.on_deliver = on_deliver
        self.pending: dict[int, asyncio.Future[pdu.Pdu]] = {}
        self.sequences = itertools.count(1)
        self.closed = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self, keepalive: float) -> None:
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._read()), loop.create_task(self._keepalive(keepalive))]

    async def request(self, command_id: int, body: bytes = b"") -> pdu.Pdu:
        if self.closed.is_set():
            raise NotSent(CONNECTION_LOST)
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

    def _delivered(self, request: pdu.Pdu) -> None:
        # Acknowledged before it is read: an SMSC whose receipt we cannot read would only
        # send it again and again, and a slow service must not hold up the SMSC's window.
        self.writer.write(pdu.deliver_sm_resp(request.sequence).encode())
        try:
            self.on_deliver(request)
        except Exception as exc:  # the reader must outlive any one deliver_sm
            log.error("a deliver_sm was not handled: %s", type(exc).__name__)

    async def _read(self) -> None:
        try:
            while True:
                received = await pdu.read_pdu(self.reader)
                if received.command_id & pdu.RESPONSE:
                    waiting = self.pending.get(received.sequence)
                    if waiting is not None and not waiting.done():
                        waiting.set_result(received)
                elif received.command_id == pdu.DELIVER_SM:
                    self._delivered(received)
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
        current = asyncio.current_task()
        for task in self.tasks:  # the reader and the keepalive end together
            if task is not current:
                task.cancel()
        for waiting in self.pending.values():
            if not waiting.done():
                waiting.set_exception(ConnectionError(CONNECTION_LOST))
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
