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
from typing import Any, Literal

import aiosmtplib
from pydantic import Field, field_validator

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
    render,
    secret_field,
    timed_out,
    unreachable,
)
from providers.registry import registry

_DEFAULT_PORTS = {"none": 25, "starttls": 587, "tls": 465}


# What _one_line refuses, as the gateway schema of the document says it (str.splitlines).
_ONE_LINE: dict[str, Any] = {"x-wire-pattern": r"^[^\n\x0b\x0c\r\x1c\x1d\x1e\x85\u2028\u2029]*$"}


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
    SENDER: str = Field(
        min_length=3,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="From address",
        json_schema_extra=_ONE_LINE,
    )
    MAILTO: str = Field(
        min_length=1,
        description="Recipient template, e.g. {phone}@sms.example.com",
        examples=["{phone}@sms.example.com"],
        json_schema_extra=_ONE_LINE,
    )
    SUBJECT: str = Field(
        "{phone}",
        description="Subject template ({phone}, {otp}, <otp>)",
        json_schema_extra=_ONE_LINE,
    )
    BODY: str = Field("{otp}", description="Body template ({phone}, {otp}, <otp>)")
    TIMEOUT: float = Field(10.0, gt=0, le=300, description="Seconds for the whole send")

    @field_validator("SENDER", "MAILTO", "SUBJECT")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if _breaks_line(value):
            raise ValueError("must not contain a line break")
        return value


def _recipient(address: str) -> str:
    """The one address MAILTO gives: a phone number must not add recipients of its own."""
    _header("MAILTO", address)
    if any(char in address for char in ',;<>"()') or address.count("@") != 1:
        raise RejectedByGateway(
            "recipient", f"MAILTO must give exactly one plain address: {address!r}"
        )
    return address


def _breaks_line(value: str) -> bool:
    # Python's email package splits headers at every line boundary str.splitlines knows
    # (U+2028, U+0085, form feed...), not only at CR and LF.
    return bool(value) and value.splitlines() != [value]


def _header(name: str, value: str) -> str:
    if _breaks_line(value):
        raise RejectedByGateway("header", f"{name} would contain a line break")
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
        message["To"] = _recipient(render(options.MAILTO, phone=phone, text=text))
        message["Subject"] = _header("SUBJECT", render(options.SUBJECT, phone=phone, text=text))
        message["Message-ID"] = make_msgid(domain=options.SENDER.rpartition("@")[2])
        message.set_content(render(options.BODY, phone=phone, text=text))
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
        stage = "connecting"
        try:
            async with asyncio.timeout(options.TIMEOUT):
                tls = await self._tls_context() if options.SMTP_TLS != "none" else None
                client = aiosmtplib.SMTP(
                    hostname=options.SMTP_SERVER,
                    port=port,
                    username=options.SMTP_USER or None,
                    password=options.SMTP_PASSWORD if options.SMTP_USER else None,
                    use_tls=options.SMTP_TLS == "tls",
                    start_tls=options.SMTP_TLS == "starttls",
                    tls_context=tls,
                    timeout=options.TIMEOUT,
                )
                async with client:  # connects, STARTTLS, AUTH; QUIT on the way out
                    stage = "sending"
                    await client.send_message(email, recipients=[str(email["To"])])
                    stage = "sent"
        except TimeoutError:
            raise timed_out(options.TIMEOUT) from None
        except aiosmtplib.SMTPException as exc:
            if stage != "sent":  # a failing QUIT after the message was accepted is no failure
                raise _send_error(exc, options.SMTP_SERVER, port, stage) from None
        except ssl.SSLError as exc:
            raise _tls_error(exc) from None
        except OSError as exc:
            if stage != "sent":
                raise _lost(f"{options.SMTP_SERVER}:{port}: {exc.strerror or exc}", stage) from None
        return SendResult(message_ids=[str(email["Message-ID"])], parts=1, raw_status="accepted")


def _lost(detail: str, stage: str) -> SendError:
    """A connection that failed: harmless before the message was on its way, unknown after."""
    if stage == "sending":
        return OutcomeUnknown("connection_lost", detail)
    return unreachable(detail)


def _tls_error(exc: BaseException) -> SendError:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return RejectedByGateway(
            "tls", f"the server's certificate failed verification: {exc.verify_message}"
        )
    return unreachable(f"TLS failed: {exc}")


def _send_error(exc: aiosmtplib.SMTPException, server: str, port: int, stage: str) -> SendError:
    """The SendError for an SMTP failure: 4xx answers may pass later, 5xx answers will not."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        refused = exc.recipients[0]
        code, text = f"smtp_{refused.code}", f"recipient refused: {refused.code} {refused.message}"
        if 400 <= refused.code < 500:
            return TemporaryFailure(code, text)
        return RejectedNumber(code, text)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return RejectedByGateway("auth", f"SMTP AUTH refused: {exc.code} {exc.message}")
    # aiosmtplib reports a missing STARTTLS or AUTH extension as a bare SMTPException.
    if isinstance(exc, aiosmtplib.SMTPNotSupported) or "not supported" in exc.message:
        return RejectedByGateway("unsupported", f"{server}:{port}: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        return TimedOut("timeout", f"{server}:{port}: {exc.message}")
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, ssl.SSLError):
            return _tls_error(cause)
        return _lost(f"{server}:{port}: {exc.message}", stage)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code, text = f"smtp_{exc.code}", f"{exc.code} {exc.message}"
        if 400 <= exc.code < 500:
            return TemporaryFailure(code, text)
        return RejectedByGateway(code, text)
    return RejectedByGateway("smtp", str(exc))
