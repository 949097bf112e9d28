"""E-mail to SMS gateways: one message per SMS, sent with aiosmtplib.

E-mail-to-SMS is a low-volume fallback, so each send opens its own SMTP connection; there
is no pool to keep alive or to go stale. Header values come from templates and the phone
number, so a CR or LF in them is refused: it would let a value add headers of its own.
"""

from __future__ import annotations

import asyncio
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Literal

import aiosmtplib
from pydantic import Field

from providers.base import (
    Provider,
    ProviderOptions,
    SendError,
    SendResult,
    render,
    secret_field,
    timed_out,
    unreachable,
)
from providers.registry import registry

_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


class SmtpOptions(ProviderOptions):
    SMTP_SERVER: str = Field(min_length=1, description="Host name or address of the SMTP server")
    SMTP_PORT: int | None = Field(
        None, gt=0, lt=65536, description="Default: 465 with tls, 587 with starttls, 25 with none"
    )
    SMTP_TLS: Literal["none", "starttls", "tls"] = Field(
        "starttls", description="starttls: upgrade a plain connection; tls: TLS from the start"
    )
    CHECK_SSL: Literal["yes", "no"] = Field("yes", description="Verify the server's certificate")
    SMTP_USER: str | None = Field(None, description="User for SMTP AUTH; none: no AUTH")
    SMTP_PASSWORD: str | None = secret_field(description="Password for SMTP AUTH")
    SENDER: str = Field(min_length=3, pattern=r"^[^@\s]+@[^@\s]+$", description="From address")
    MAILTO: str = Field(
        min_length=1,
        description="Recipient template, e.g. {phone}@sms.example.com",
        examples=["{phone}@sms.example.com"],
    )
    SUBJECT: str = Field("{phone}", description="Subject template ({phone}, {otp}, <otp>)")
    BODY: str = Field("{otp}", description="Body template ({phone}, {otp}, <otp>)")
    TIMEOUT: float = Field(10.0, gt=0, le=300, description="Seconds for the whole send")


def _recipient(address: str) -> str:
    """The one address MAILTO gives: a phone number must not add recipients of its own."""
    _header("MAILTO", address)
    if any(char in address for char in ',;<>"()') or address.count("@") != 1:
        raise SendError("recipient", f"MAILTO must give exactly one plain address: {address!r}")
    return address


def _header(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise SendError("header", f"{name} would contain a line break")
    return value


@registry.register(
    "providers.smtp.SmtpProvider",
    aliases=("privacyidea.lib.smsprovider.SmtpSMSProvider.SmtpSMSProvider",),
)
class SmtpProvider(Provider[SmtpOptions]):
    """Send each SMS as an e-mail to an e-mail-to-SMS gateway."""

    options_model = SmtpOptions
    description = "E-mail to SMS: SMTP with STARTTLS or TLS, AUTH, templated address and text"

    _context: ssl.SSLContext | None = None

    def message(self, phone: str, text: str) -> EmailMessage:
        options = self.options
        message = EmailMessage()
        message["From"] = _header("SENDER", options.SENDER)
        message["To"] = _recipient(render(options.MAILTO, phone=phone, otp=text))
        message["Subject"] = _header("SUBJECT", render(options.SUBJECT, phone=phone, otp=text))
        message["Message-ID"] = make_msgid(domain=options.SENDER.rpartition("@")[2])
        message.set_content(render(options.BODY, phone=phone, otp=text))
        return message

    async def _tls_context(self) -> ssl.SSLContext:
        # Loading the trust store takes tens of milliseconds: once per gateway, in a thread.
        if self._context is None:
            self._context = await asyncio.to_thread(self._new_tls_context)
        return self._context

    def _new_tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.options.CHECK_SSL == "no":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def send(self, phone: str, message: str) -> SendResult:
        options = self.options
        email = self.message(self.phone_for(phone), message)
        port = options.SMTP_PORT or _DEFAULT_PORTS[options.SMTP_TLS]
        try:
            async with asyncio.timeout(options.TIMEOUT):
                tls = await self._tls_context() if options.SMTP_TLS != "none" else None
                await aiosmtplib.send(
                    email,
                    recipients=[str(email["To"])],
                    hostname=options.SMTP_SERVER,
                    port=port,
                    username=options.SMTP_USER or None,
                    password=options.SMTP_PASSWORD if options.SMTP_USER else None,
                    use_tls=options.SMTP_TLS == "tls",
                    start_tls=options.SMTP_TLS == "starttls",
                    tls_context=tls,
                    timeout=options.TIMEOUT,
                )
        except TimeoutError:
            raise timed_out(options.TIMEOUT) from None
        except aiosmtplib.SMTPException as exc:
            raise _send_error(exc, options.SMTP_SERVER, port) from None
        except ssl.SSLError as exc:
            raise _tls_error(exc) from None
        except OSError as exc:
            raise unreachable(f"{options.SMTP_SERVER}:{port}: {exc.strerror or exc}") from None
        return SendResult(message_ids=[str(email["Message-ID"])], parts=1, raw_status="accepted")


def _tls_error(exc: BaseException) -> SendError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SendError(
            "tls", f"the server's certificate failed verification: {exc.verify_message}"
        )
    return SendError("tls", f"TLS failed: {exc}")


def _send_error(exc: aiosmtplib.SMTPException, server: str, port: int) -> SendError:
    """The SendError for an SMTP failure: 4xx answers may pass, 5xx answers will not."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0]
        return SendError(
            f"smtp_{refused.code}",
            f"recipient {refused.recipient} refused: {refused.code} {refused.message}",
            retryable=400 <= refused.code < 500,
        )
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SendError("auth", f"SMTP AUTH refused: {exc.code} {exc.message}")
    # aiosmtplib reports a missing STARTTLS or AUTH extension as a bare SMTPException.
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or "not supported" in exc.message:
        return SendError("unsupported", f"{server}:{port}: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return SendError("timeout", f"{server}:{port}: {exc.message}", retryable=True)
    if isinstance(exc, aiosmtplib.SMTPConnectError):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLError):
            return _tls_error(cause)
        return unreachable(f"{server}:{port}: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLError):
            return _tls_error(cause)
        return unreachable(f"{server}:{port}: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return SendError(
            f"smtp_{exc.code}", f"{exc.code} {exc.message}", retryable=400 <= exc.code < 500
        )
    return SendError("smtp", str(exc))
