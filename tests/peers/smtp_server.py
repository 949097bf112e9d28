"""An SMTP server for the tests: aiosmtpd on 127.0.0.1 with AUTH, STARTTLS or implicit TLS
on a certificate from a throwaway CA, recording what it accepts and refusing what it is told.

aiosmtpd's Controller runs the server on its own event loop in a thread, so a provider
under test talks to it over real TCP exactly as to a remote server.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.peers.ports import free_port

USER, PASSWORD = "relay-user", "relay-p@ss"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated: bool


@dataclass
class Recorder:
    received: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address -> reply such as "550 ..."
    data_reply: str = ""  # answer the message with this instead of 250, e.g. "451 later"
    drop_on_data: bool = False  # close the connection once the message has arrived

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.drop_on_data:
            server.transport.close()
            return "421 closing"
        if self.data_reply:
            return self.data_reply
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, session.authenticated)
        )
        return "250 Message accepted"


def _authenticate(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    if isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    ):
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


class SmtpServer:
    """mode: "plain" (no TLS), "starttls" (offers STARTTLS, AUTH only after it), "tls"
    (TLS from the first byte, so AUTH is offered at once)."""

    def __init__(self, ca: trustme.CA, mode: str = "plain") -> None:
        self.recorder = Recorder()
        self.port = free_port()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        kwargs: dict[str, Any] = {
            "authenticator": _authenticate,
            "auth_require_tls": mode == "starttls",
        }
        if mode == "starttls":
            kwargs["tls_context"] = context
        if mode == "tls":
            kwargs["ssl_context"] = context
        self.controller = Controller(
            self.recorder, hostname="127.0.0.1", port=self.port, ready_timeout=10, **kwargs
        )

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
