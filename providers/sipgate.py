"""Sipgate's SMS API: XML-RPC `samurai.SessionInitiate` over HTTPS, through httpx.

The request and the answer are built and read with the standard library's xmlrpc
marshalling, which escapes what XML needs escaped, so any text arrives as it was written.
Sipgate answers a fault, or a struct whose StatusCode says whether it took the message.

Answers are parsed by expat, which (2.4.1 and later) refuses entity amplification and
never fetches external entities, so a hostile endpoint cannot blow up the parser.
"""

from __future__ import annotations

import asyncio
import xmlrpc.client
from typing import Any
from xml.parsers.expat import ExpatError

import aiohttp
import httpx
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
    timed_out,
)
from providers.http_client import pooled_client, status_error, transport_error
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

    _client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = pooled_client(
                proxy=self.options.PROXY,
                auth=(self.options.USERNAME, self.options.PASSWORD),
                headers={"Content-Type": "text/xml; charset=utf-8"},
            )
        return self._client

    def request_body(self, phone: str, message: str) -> bytes:
        # privacyIDEA's format: the number without surrounding blanks or "+", at sipgate.de.
        number = self.phone_for(phone).strip().strip("+")
        session = {"RemoteUri": f"sip:{number}@sipgate.de", "TOS": "text", "Content": message}
        return xmlrpc.client.dumps((session,), _METHOD, encoding="utf-8").encode()

    async def send(self, phone: str, message: str) -> SendResult:
        body = self.request_body(phone, message)
        try:
            async with asyncio.timeout(self.options.TIMEOUT):
                reply = await self.client().post(str(self.options.URL), content=body)
        except TimeoutError:
            raise timed_out(self.options.TIMEOUT) from None
        except (httpx.HTTPError, aiohttp.ClientError) as exc:
            raise transport_error(exc) from None
        if reply.status_code != 200:
            raise status_error(reply.status_code, reply.headers, reply.text, "Sipgate")
        return _judge(reply.content)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


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
