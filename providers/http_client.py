"""The one HTTP client stack of the providers (HTTP and Sipgate): aiohttp's client.

One pooled session per gateway, kept for the provider's life. aiohttp directly rather than
httpx on the httpx-aiohttp transport: in bench/http_client.py's bulk run httpx loses more
than a third of the throughput and spends over twice the CPU per send (figures in the
README), and CPU per send is what limits the service.

TIMEOUT is kept by asyncio around the whole request. A failed connect never reached the
gateway (Unreachable); a connection lost once the request was on its way may have
delivered it (OutcomeUnknown).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from providers.base import (
    OutcomeUnknown,
    RejectedByGateway,
    SendError,
    TemporaryFailure,
    Throttled,
    timed_out,
    unreachable,
)

MAX_CONNECTIONS = 1000  # per gateway: bulk sends to a slow gateway need many in flight
_SHOWN = 200  # characters of a reply kept in an error


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes
    text: str


def pooled_session(
    *, verify: bool = True, headers: Mapping[str, str] | None = None
) -> aiohttp.ClientSession:
    """A session with its own connection pool, for one gateway (built inside the loop)."""
    check_headers(headers or {})
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=verify),
        headers=dict(headers or {}),
        trust_env=False,
    )


def proxy_and_auth(proxy: str | None) -> tuple[str | None, aiohttp.BasicAuth | None]:
    """The proxy URL without its userinfo, and that userinfo as the proxy's credentials."""
    if not proxy:
        return None, None
    url = URL(proxy)
    if not url.user:
        return proxy, None
    return str(url.with_user(None)), aiohttp.BasicAuth(url.user, url.password or "")


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    seconds: float,
    proxy: str | None = None,
    **kwargs: Any,
) -> Reply:
    """One request, its whole answer read within `seconds`; a SendError if no HTTP answer
    came."""
    proxy, proxy_auth = proxy_and_auth(proxy)
    try:
        async with (
            asyncio.timeout(seconds),
            session.request(method, url, proxy=proxy, proxy_auth=proxy_auth, **kwargs) as reply,
        ):
            body = await reply.read()
            return Reply(reply.status, reply.headers, body, _decode(body, reply.charset))
    except TimeoutError:
        raise timed_out(seconds) from None
    except aiohttp.ClientError as exc:
        raise transport_error(exc) from None


def _decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", "replace")


def check_headers(headers: Mapping[str, str]) -> None:
    """RejectedByGateway unless every header can go on the wire as it is."""
    for name, value in headers.items():
        if any(char in name + value for char in "\r\n\0"):
            raise RejectedByGateway("header", f"header {name!r} contains a line break")
        try:
            name.encode("ascii")
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise RejectedByGateway(
                "header", f"header {name!r} has characters HTTP headers cannot carry"
            ) from None


def transport_error(exc: aiohttp.ClientError) -> SendError:
    """The SendError for a request that got no HTTP answer."""
    if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ClientHttpProxyError):
        return unreachable(exc)  # not connected, TLS handshake failed, or the proxy refused
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        # The request was written, or was being written: the gateway may have taken it.
        return OutcomeUnknown("connection_lost", _describe(exc))
    return RejectedByGateway("request", _describe(exc))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".rstrip(": ")


def status_error(status: int, headers: Mapping[str, str], text: str, who: str) -> SendError:
    """The SendError for an HTTP answer other than success."""
    message = f"{who} answered HTTP {status}: {text[:_SHOWN]}"
    if status == 429:
        return Throttled("http_429", message, retry_after=retry_after(headers.get("Retry-After")))
    if status >= 500:
        return TemporaryFailure(f"http_{status}", message)
    return RejectedByGateway(f"http_{status}", message)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP date; None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
