"""HTTP/HTTPS gateways: GET query, POST form or POST JSON, with success/fail markers."""

from __future__ import annotations

import asyncio
from typing import Literal

import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import AnyHttpUrl, ConfigDict, Field

from providers.base import Provider, ProviderOptions, SendError, SendResult, render, secret_field
from providers.registry import registry

YesNo = Literal["yes", "no"]
_SUCCESS_STATUSES = {200, 201, 202}


class HttpOptions(ProviderOptions):
    # Unknown keys are parameters sent to the gateway, as privacyIDEA does.
    model_config = ConfigDict(extra="allow")
    options_allowed = True

    URL: AnyHttpUrl = Field(description="Gateway endpoint; user:password@ in it means basic auth")
    HTTP_METHOD: Literal["GET", "POST"] = Field("GET", description="GET sends a query string")
    SEND_DATA_AS_JSON: YesNo = Field("no", description="POST the parameters as a JSON object")
    USERNAME: str | None = Field(None, description="Basic auth user")
    PASSWORD: str | None = secret_field(description="Basic auth password")
    CHECK_SSL: YesNo = Field("yes", description="Verify the gateway's TLS certificate")
    HTTP_PROXY: str | None = Field(None, description="Proxy for http:// URLs")
    HTTPS_PROXY: str | None = Field(None, description="Proxy for https:// URLs")
    PROXY: str | None = Field(None, description="Proxy for any URL (privacyIDEA's older name)")
    TIMEOUT: float = Field(5.0, gt=0, le=300, description="Seconds for the whole request")
    RETURN_SUCCESS: str | None = Field(
        None, description="The reply must contain this text to count as sent"
    )
    RETURN_FAIL: str | None = Field(
        None, description="A reply containing this text counts as failed"
    )


@registry.register(
    "providers.http.HttpProvider",
    aliases=("privacyidea.lib.smsprovider.HttpSMSProvider.HttpSMSProvider",),
)
class HttpProvider(Provider[HttpOptions]):
    """Send through an HTTP(S) SMS gateway."""

    options_model = HttpOptions
    headers_allowed = True
    description = "HTTP/HTTPS gateway: GET or POST (form or JSON), basic auth, markers"

    _client: httpx.AsyncClient | None = None

    def _url_and_auth(self) -> tuple[httpx.URL, httpx.BasicAuth | None]:
        url = httpx.URL(str(self.options.URL))
        user, password = self.options.USERNAME, self.options.PASSWORD
        if url.username and not user:
            user, password = url.username, url.password
        url = url.copy_with(username=None, password=None)
        return url, httpx.BasicAuth(user, password or "") if user else None

    def _proxy(self, url: httpx.URL) -> httpx.Proxy | None:
        proxy = self.options.HTTPS_PROXY if url.scheme == "https" else self.options.HTTP_PROXY
        proxy = proxy or self.options.PROXY
        return httpx.Proxy(proxy) if proxy else None

    def client(self) -> httpx.AsyncClient:
        # One pooled client per gateway: connections are reused across sends. The aiohttp
        # transport keeps up with hundreds of concurrent requests where httpx's own pool
        # queues them (see bench/dispatch.py).
        if self._client is None:
            url, _ = self._url_and_auth()
            verify = self.options.CHECK_SSL == "yes"
            transport = AiohttpTransport(
                verify=verify,
                proxy=self._proxy(url),
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=1000),
            )
            self._client = httpx.AsyncClient(
                transport=transport, verify=verify, headers=self.headers, trust_env=False
            )
        return self._client

    def _parameters(self, phone: str, message: str) -> dict[str, str]:
        return {
            key: render(value, phone=phone, otp=message)
            for key, value in self.options.extra_options().items()
        }

    async def send(self, phone: str, message: str) -> SendResult:
        phone = self.phone_for(phone)
        url, auth = self._url_and_auth()
        parameters = self._parameters(phone, message)
        kwargs: dict[str, object] = {}
        if self.options.HTTP_METHOD == "GET":
            kwargs["params"] = parameters
        elif self.options.SEND_DATA_AS_JSON == "yes":
            kwargs["json"] = parameters
        else:
            kwargs["data"] = parameters
        try:
            async with asyncio.timeout(self.options.TIMEOUT):
                reply = await self.client().request(
                    self.options.HTTP_METHOD,
                    url,
                    auth=auth or httpx.USE_CLIENT_DEFAULT,
                    timeout=self.options.TIMEOUT,
                    **kwargs,  # type: ignore[arg-type]
                )
        except TimeoutError:
            raise SendError(
                "timeout", f"no answer within {self.options.TIMEOUT:g} s", retryable=True
            ) from None
        except httpx.HTTPError as exc:
            raise SendError(
                "connection", f"{type(exc).__name__}: {exc}".rstrip(": "), retryable=True
            ) from None
        return self._judge(reply)

    def _judge(self, reply: httpx.Response) -> SendResult:
        text = reply.text
        if reply.status_code not in _SUCCESS_STATUSES:
            raise SendError(
                f"http_{reply.status_code}",
                f"gateway answered HTTP {reply.status_code}: {text[:200]}",
                retryable=reply.status_code >= 500 or reply.status_code == 429,
            )
        if self.options.RETURN_FAIL and self.options.RETURN_FAIL in text:
            raise SendError("rejected", f"gateway reply contains the fail marker: {text[:200]}")
        if self.options.RETURN_SUCCESS and self.options.RETURN_SUCCESS not in text:
            raise SendError("rejected", f"gateway reply lacks the success marker: {text[:200]}")
        return SendResult(message_ids=[], parts=1, raw_status=f"{reply.status_code} {text[:200]}")

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
