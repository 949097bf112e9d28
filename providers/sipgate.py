"""Sipgate's SMS API: XML-RPC `samurai.SessionInitiate` over HTTPS, on the providers' one
HTTP client stack (http_client.py).

The request and the answer are built and read with the standard library's xmlrpc
marshalling, which escapes what XML needs escaped, so any text arrives as it was written.
Sipgate answers a fault, or a struct whose StatusCode says whether it took the message.

Answers are parsed by expat, which (2.4.1 and later) refuses entity amplification and
never fetches external entities, so a hostile endpoint cannot blow up the parser.
"""

from __future__ import annotations

import xmlrpc.client
from typing import Any
from xml.parsers.expat import ExpatError

import aiohttp
from pydantic import AnyHttpUrl, Field

from providers.base import (
    OutcomeUnknown,
    Provider,
    ProviderOptions,
    RejectedByGateway,
    SendError,
    SendResult,
    TemporaryFailure,
    secret_field,
)
from providers.http_client import pooled_session, request, status_error
from providers.registry import registry

SIPGATE_URL = "https://samurai.sipgate.net/RPC2"
_METHOD = "samurai.SessionInitiate"
# What a malformed or non-XML-RPC answer makes xmlrpc.client.loads raise.
_UNREADABLE = (ExpatError, xmlrpc.client.ResponseError, ValueError, TypeError, LookupError)


class SipgateOptions(ProviderOptions):
    URL: AnyHttpUrl = Field(AnyHttpUrl(SIPGATE_URL), description="Sipgate's XML-RPC endpoint")
    USERNAME: str = Field(min_length=1, description="Sipgate account user")
    PASSWORD: str = secret_field(..., min_length=1, description="Sipgate account password")
    PROXY: str | None = Field(None, description="HTTP proxy URL, user:password@ allowed")
    TIMEOUT: float = Field(5.0, gt=0, le=300, description="Seconds for the whole request")


@registry.register(
    "providers.sipgate.SipgateProvider",
    aliases=("privacyidea.lib.smsprovider.SipgateSMSProvider.SipgateSMSProvider",),
)
class SipgateProvider(Provider[SipgateOptions]):
    """Send through Sipgate's XML-RPC API."""

    options_model = SipgateOptions
    description = "Sipgate: XML-RPC samurai.SessionInitiate with basic auth"

    _session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = pooled_session(headers={"Content-Type": "text/xml; charset=utf-8"})
        return self._session

    def request_body(self, phone: str, message: str) -> bytes:
        # privacyIDEA's format: the number without surrounding blanks or "+", at sipgate.de.
        number = self.phone_for(phone).strip().strip("+")
        session = {"RemoteUri": f"sip:{number}@sipgate.de", "TOS": "text", "Content": message}
        return xmlrpc.client.dumps((session,), _METHOD, encoding="utf-8").encode()

    async def send(self, phone: str, message: str) -> SendResult:
        reply = await request(
            self.session(),
            "POST",
            str(self.options.URL),
            seconds=self.options.TIMEOUT,
            proxy=self.options.PROXY,
            auth=aiohttp.BasicAuth(self.options.USERNAME, self.options.PASSWORD),
            data=self.request_body(phone, message),
        )
        if reply.status != 200:
            raise status_error(reply.status, reply.headers, reply.text, "Sipgate")
        return _judge(reply.body)

    async def aclose(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()


def _judge(content: bytes) -> SendResult:
    try:
        (reply,), _ = xmlrpc.client.loads(content)
    except xmlrpc.client.Fault as fault:
        raise RejectedByGateway(
            f"fault_{fault.faultCode}", f"Sipgate: {str(fault.faultString)[:200]}"
        ) from None
    except _UNREADABLE:
        # Something answered 200 that is not Sipgate's answer: the message may have gone.
        raise OutcomeUnknown("bad_response", f"not an XML-RPC answer: {content[:200]!r}") from None
    if not isinstance(reply, dict) or "StatusCode" not in reply:
        raise OutcomeUnknown("bad_response", f"not a SessionInitiate answer: {reply!r:.200}")
    answer: dict[str, Any] = reply
    status = answer["StatusCode"]
    if str(status) != "200":
        text = str(answer.get("StatusString", ""))[:200]
        raise _status_error(str(status), f"Sipgate: {status} {text}".strip())
    session = str(answer.get("SessionID", ""))
    return SendResult(message_ids=[session] if session else [], raw_status=f"{status}")


def _status_error(status: str, message: str) -> SendError:
    # Samurai's status codes follow HTTP's classes; 402 is its "internal error".
    if status == "402" or status.startswith("5"):
        return TemporaryFailure(f"status_{status}", message)
    return RejectedByGateway(f"status_{status}", message)
