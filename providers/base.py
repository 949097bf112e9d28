"""The contract every SMS provider fulfils: options model, send, result, error."""

from __future__ import annotations

import functools
import logging
import re
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

log = logging.getLogger("smsgw.providers")


# What a delivery report says of one message part, in the service's words. "delivered" and
# "undeliverable" are final; "accepted" and "enroute" say the gateway still works on it;
# "unknown" is the gateway admitting it cannot tell (also final: nothing more will come).
RECEIPT_STATES = ("accepted", "enroute", "delivered", "undeliverable", "unknown")


@dataclass(frozen=True)
class Receipt:
    """A delivery report for one message part, as a provider received it."""

    provider_id: str  # the id the gateway gave when it took the part, as send() reported it
    state: str  # one of RECEIPT_STATES
    provider_status: str = ""  # the gateway's own word for it (DELIVRD, "failed", ...)
    reported_at: datetime | None = None  # when the gateway says it happened, if it does
    error: str = ""  # the gateway's error code, if any


# Hands a receipt to the service: (gateway name, receipt). It never raises for a receipt
# that matches nothing; the service counts and logs those.
ReceiptSink = Callable[[str, Receipt], Awaitable[None]]
# Told of a report the provider could not read (gateway name, reason), to count and log it.
RejectedReceipt = Callable[[str, str], None]


@dataclass(frozen=True)
class ProviderContext:
    """What a provider may know about the service around it."""

    script_dir: Path = Path("scripts")
    gateway: str = ""  # the name of the gateway definition this instance serves
    receipts: ReceiptSink | None = None  # where delivery reports go; None: nowhere
    receipt_rejected: RejectedReceipt | None = None


@dataclass(frozen=True)
class SendResult:
    """What the remote side said about one message."""

    message_ids: list[str] = field(default_factory=list)
    parts: int = 1
    raw_status: str = ""


class SendError(Exception):
    """A send failed. The subclass says what kind of failure, and so what the delivery engine
    does next; `code` stays as data for the log and the message record."""

    retryable: ClassVar[bool] = False  # may the same gateway be tried again?

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class Unreachable(SendError):
    """Nothing reached the gateway (refused, DNS, TLS handshake, reset before the request was
    written): fail over."""

    retryable = True


class TemporaryFailure(SendError):
    """The gateway answered "not now" (HTTP 5xx, SMTP 4xx, a temporary CMS or SMPP status):
    retry with backoff, then fail over."""

    retryable = True


class Throttled(TemporaryFailure):
    """The gateway asked to slow down (HTTP 429, SMPP 0x58/0x14): wait if that fits the
    deadline, else fail over. `retry_after` is in seconds, when the gateway said."""

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class OutcomeUnknown(SendError):
    """The request may have gone out, but no answer says so: a retry may duplicate it."""

    retryable = True


class TimedOut(OutcomeUnknown):
    """No answer within the gateway's TIMEOUT."""


class RejectedByGateway(SendError):
    """The gateway refused the request itself (authentication, configuration, content):
    fail over, never this gateway again for this message."""


class RejectedNumber(SendError):
    """The destination is invalid or barred: stop, another gateway will refuse it too."""


def timed_out(seconds: float) -> SendError:
    """The error of a send that got no answer in time."""
    return TimedOut("timeout", f"no answer within {seconds:g} s")


def unreachable(detail: str | BaseException) -> SendError:
    """The error of a send that could not reach its peer."""
    if isinstance(detail, BaseException):
        detail = f"{type(detail).__name__}: {detail}".rstrip(": ")
    return Unreachable("connection", detail)


def internal_error(exc: Exception, where: str) -> SendError:
    """The SendError for an exception no provider foresaw; logged with where it arose.

    Only the type and the line are logged: an exception's text may quote a secret option.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    line = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
    log.error("%s failed unexpectedly: %s at %s", where, type(exc).__name__, line)
    return RejectedByGateway("internal", f"{where} failed unexpectedly ({type(exc).__name__})")


SendFunction = Callable[[Any, str, str], Awaitable["SendResult"]]


def _guarded(send: SendFunction) -> SendFunction:
    @functools.wraps(send)
    async def guarded(self: Any, phone: str, message: str) -> SendResult:
        try:
            return await send(self, phone, message)
        except SendError:
            raise
        except Exception as exc:
            raise internal_error(exc, f"{type(self).__name__}.send") from None

    guarded.__dict__["guarded"] = True
    return guarded


def secret_field(default: Any = None, **kwargs: Any) -> Any:
    """A Field whose value is encrypted at rest and censored on read."""
    extra = {"secret": True, **kwargs.pop("json_schema_extra", {})}
    return Field(default, json_schema_extra=extra, **kwargs)


# privacyIDEA's reading of "/pattern/replacement/": greedy, so "/[+-/. ]//" works as written.
_REGEXP = re.compile(r"^/(?P<pattern>.*)/(?P<replacement>.*)/$", re.DOTALL)


class ProviderOptions(BaseModel):
    """Options shared by every provider. Field name = option key, as on the wire."""

    # Values arrive as the strings the admin posted; lax mode turns "5" into 5.0.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)
    options_allowed: ClassVar[bool] = False

    REGEXP: str | None = Field(
        None,
        description="Rewrite the phone number before sending: /pattern/replacement/, "
        "for example /[+-/. ]// removes separators",
        examples=["/[+-/. ]//"],
        # On the wire (the gateway schema of the document): the pattern must compile, which
        # JSON Schema cannot say, hence the format.
        json_schema_extra={
            "x-wire": {
                "type": "string",
                "pattern": r"^/[\s\S]*/[\s\S]*/$",
                "format": "regexp-substitution",
                "maxLength": 4000,
            }
        },
    )

    @field_validator("REGEXP")
    @classmethod
    def _regexp_compiles(cls, value: str | None) -> str | None:
        if value:
            match = _REGEXP.match(value)
            if not match:
                raise ValueError("must look like /pattern/replacement/")
            try:
                re.compile(match["pattern"])
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        return value or None

    def extra_options(self) -> dict[str, str]:
        """Options beyond the declared fields (only where `options_allowed`)."""
        return {k: str(v) for k, v in (self.model_extra or {}).items()}


def rewrite_phone(phone: str, regexp: str | None) -> str:
    """Apply a /pattern/replacement/ rule to a phone number."""
    if not regexp:
        return phone
    match = _REGEXP.match(regexp)
    if match is None:
        return phone
    return re.sub(match["pattern"], match["replacement"], phone)


def render(template: str, *, phone: str, text: str) -> str:
    """Put the number and the message text into a template.

    The placeholders keep privacyIDEA's names, `{otp}` and `<otp>`, although they stand
    for the whole text of the SMS (which holds the OTP for a challenge), so that gateway
    definitions written for privacyIDEA keep working.
    """
    return (
        template.replace("{otp}", text)
        .replace("<otp>", text)
        .replace("{phone}", phone)
        .replace("<phone>", phone)
    )


OptionsT = TypeVar("OptionsT", bound=ProviderOptions)


class Provider(Generic[OptionsT]):
    """One configured gateway: built once from validated options, then used for many sends.

    Instances are long-lived (one per gateway definition and process), so they may keep
    connections open; `aclose` releases them.
    """

    options_model: ClassVar[type[ProviderOptions]] = ProviderOptions
    headers_allowed: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Every send of every provider fails with a SendError and nothing else, whatever
        # the provider forgot to catch: callers route on the class.
        super().__init_subclass__(**kwargs)
        send = cls.__dict__.get("send")
        if send is not None and not getattr(send, "guarded", False):
            setattr(cls, "send", _guarded(send))  # noqa: B010

    def __init__(
        self,
        options: OptionsT,
        headers: Mapping[str, str] | None = None,
        context: ProviderContext | None = None,
    ) -> None:
        self.options = options
        self.headers = dict(headers or {})
        self.context = context or ProviderContext()

    def phone_for(self, phone: str) -> str:
        """The number as this gateway wants it (after REGEXP)."""
        return rewrite_phone(phone, self.options.REGEXP)

    async def send(self, phone: str, message: str) -> SendResult:
        """Send one message; any failure is a SendError subclass."""
        raise NotImplementedError

    @property
    def receives_receipts(self) -> bool:
        """Whether this instance, as configured, gets delivery reports over its own
        connection (an SMPP transceiver): the service then keeps it listening."""
        return False

    async def listen(self) -> None:
        """Keep the connection that brings delivery reports open until `aclose` (reconnecting
        as needed); returns at once for a provider that receives none."""

    async def report(self, receipt: Receipt) -> None:
        """Hand a delivery report to the service."""
        if self.context.receipts is not None:
            await self.context.receipts(self.context.gateway, receipt)

    def reject_report(self, reason: str) -> None:
        """Count a delivery report that could not be read (it was still acknowledged)."""
        log.warning("%s: unreadable delivery report: %s", self.context.gateway or "?", reason)
        if self.context.receipt_rejected is not None:
            self.context.receipt_rejected(self.context.gateway, reason)

    async def drain(self) -> None:
        """Wait for work a send left running after it returned (none by default)."""

    async def aclose(self) -> None:
        """Release connections, stopping whatever still runs; the default holds none."""
