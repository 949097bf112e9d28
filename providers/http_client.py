"""The one HTTP client stack of the providers: httpx on the httpx-aiohttp transport.

One pooled client per gateway, kept for the provider's life. httpx's own transport stalls
under many concurrent sends (bench/http_client.py); on aiohttp's it keeps up. TIMEOUT is
kept by asyncio alone and httpx is told not to time out: the transport reports a refused
connection as a ConnectTimeout, which would read as a timeout.

What went wrong is read from aiohttp's original error, since the transport maps several of
them to misleading httpx names: a failed connect never reached the gateway (Unreachable);
a connection lost once the request was on its way may have delivered it (OutcomeUnknown).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping

import aiohttp
import httpx
from httpx_aiohttp import HttpxAiohttpClient

from providers.base import (
    OutcomeUnknown,
    RejectedByGateway,
    SendError,
    TemporaryFailure,
    Throttled,
    unreachable,
)

MAX_CONNECTIONS = 1000  # per gateway: bulk sends to a slow gateway need many in flight
_SHOWN = 200  # characters of a reply kept in an error


def pooled_client(
    *,
    verify: bool = True,
    proxy: str | None = None,
    auth: tuple[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """A client with its own connection pool, for one gateway."""
    check_headers(headers or {})
    limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=None)
    client: httpx.AsyncClient = HttpxAiohttpClient(
        verify=verify,
        proxy=proxy or None,
        auth=auth,
        headers=dict(headers or {}),
        timeout=None,
        limits=limits,
        trust_env=False,
    )
    return client


def check_headers(headers: Mapping[str, str]) -> None:
    """RejectedByGateway unless every header can go on the wire as it is."""
    for name, value in headers.items():
        if any(char in value for char in "\r\n\0"):
            raise RejectedByGateway("header", f"header {name} contains a line break")
        try:
            name.encode("ascii")
            value.encode("latin-1")
        except UnicodeEncodeError:
            raise RejectedByGateway(
                "header", f"header {name} has characters HTTP headers cannot carry"
            ) from None


def transport_error(exc: httpx.HTTPError | aiohttp.ClientError) -> SendError:
    """The SendError for a request that got no HTTP answer."""
    cause = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError) else exc
    if isinstance(cause, aiohttp.ClientConnectorError | httpx.ConnectError | httpx.ProxyError):
        return unreachable(cause)
    if isinstance(cause, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError):
        # The request was written (or was being written): the gateway may have taken it.
        return OutcomeUnknown("connection_lost", _describe(cause))
    if isinstance(cause, httpx.TransportError | aiohttp.ClientResponseError):
        return OutcomeUnknown("connection_lost", _describe(cause))
    return RejectedByGateway("request", _describe(cause))


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
