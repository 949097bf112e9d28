"""An SMSC for the tests, on asyncio streams with the provider's own PDU codec: binds,
submit_sm (recorded and decoded), enquire_link, unbind, and faults on demand."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, field

from providers import smpp_pdu as pdu


@dataclass
class Submitted:
    submit: pdu.SubmitSm
    header: bytes  # the user data header, b"" for a single-part message
    text: str


@dataclass
class SmppServer:
    system_id: str = "smsgw"
    password: str = "secret"
    delay: float = 0.0
    throttle_next: int = 0  # answer this many submits with ESME_RTHROTTLED
    fail_with: int = 0  # answer every submit with this status
    binds: int = 0
    unbinds: int = 0
    enquire_links: int = 0
    outstanding: int = 0
    max_outstanding: int = 0
    submitted: list[Submitted] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> SmppServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.drop_connections()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def drop_connections(self) -> None:
        for writer in self._writers:
            writer.close()
        self._writers.clear()

    async def enquire_clients(self) -> None:
        """Send our own enquire_link to every client; they must answer it."""
        for writer in self._writers:
            writer.write(pdu.Pdu(pdu.ENQUIRE_LINK, 0, 9000).encode())
            await writer.drain()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        self.client_answers: list[pdu.Pdu] = []
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                request = await pdu.read_pdu(reader)
                if request.command_id & pdu.RESPONSE:
                    self.client_answers.append(request)
                    continue
                task = asyncio.get_running_loop().create_task(self._answer(request, writer))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except (asyncio.IncompleteReadError, ConnectionError, pdu.PduError):
            pass
        finally:
            for task in list(tasks):
                task.cancel()
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(self, request: pdu.Pdu, writer: asyncio.StreamWriter) -> None:
        status, body = 0, b""
        if request.command_id == pdu.BIND_TRANSMITTER:
            fields = pdu.Fields(request.body)
            system_id, password = fields.cstring(), fields.cstring()
            self.binds += 1
            if system_id != self.system_id:
                status = 0x0F  # ESME_RINVSYSID
            elif password != self.password:
                status = 0x0E  # ESME_RINVPASWD
            body = b"" if status else b"test-smsc\0"
        elif request.command_id == pdu.SUBMIT_SM:
            status, body = await self._submit(request)
        elif request.command_id == pdu.ENQUIRE_LINK:
            self.enquire_links += 1
        elif request.command_id == pdu.UNBIND:
            self.unbinds += 1
        else:
            status = 0x03
        command = request.command_id | pdu.RESPONSE
        writer.write(pdu.Pdu(command, status, request.sequence, body).encode())
        with contextlib.suppress(ConnectionError):
            await writer.drain()

    async def _submit(self, request: pdu.Pdu) -> tuple[int, bytes]:
        self.outstanding += 1
        self.max_outstanding = max(self.max_outstanding, self.outstanding)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.throttle_next > 0:
                self.throttle_next -= 1
                return pdu.THROTTLED, b""
            if self.fail_with:
                return self.fail_with, b""
            submit = pdu.SubmitSm.parse(request.body)
            header, text = pdu.decode_text(
                submit.data_coding, submit.esm_class, submit.short_message
            )
            self.submitted.append(Submitted(submit, header, text))
            return 0, f"msg-{next(self._ids)}".encode() + b"\0"
        finally:
            self.outstanding -= 1
