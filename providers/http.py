"""HTTP/HTTPS gateways: GET query, POST form or POST JSON, with success/fail markers."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
import httpx
from pydantic import AnyHttpUrl, ConfigDict, Field
from yarl import URL

from providers.base import (
    Provider,
    ProviderOptions,
    RejectedByGateway,
    SendResult,
    render,
    secret_field,
    timed_out,
)
from providers.http_client import pooled_client, status_error, transport_error
from providers.registry import registry

YesNo = Literal["yes", "no"]
_SUCCESS_STATUSES = {200, 201, 202}
_FORM, _JSON = "application/x-www-form-urlencoded", "application/json"


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

    def _url_and_auth(self) -> tuple[str, tuple[str, str] | None]:
        url = URL(str(self.options.URL))
        user, password = self.options.USERNAME, self.options.PASSWORD
        if url.user and not user:
            user, password = url.user, url.password
        return str(url.with_user(None)), (user, password or "") if user else None

    def _proxy(self, url: str) -> str | None:
        https = url.startswith("https:")
        proxy = self.options.HTTPS_PROXY if https else self.options.HTTP_PROXY
        return proxy or self.options.PROXY

    def client(self) -> httpx.AsyncClient:
        # One pooled client per gateway: connections are reused across sends.
        if self._client is None:
            url, auth = self._url_and_auth()
            self._client = pooled_client(
                verify=self.options.CHECK_SSL == "yes",
                proxy=self._proxy(url),
                auth=auth,
                headers=self.headers,
            )
        return self._client

    def _parameters(self, phone: str, message: str) -> dict[str, str]:
        return {
            key: render(value, phone=phone, otp=message)
            for key, value in self.options.extra_options().items()
        }

    async def send(self, phone: str, message: str) -> SendResult:
        phone = self.phone_for(phone)
        url, _ = self._url_and_auth()
        parameters = self._parameters(phone, message)
        kwargs: dict[str, Any] = {}
        if self.options.HTTP_METHOD == "GET":
            kwargs["params"] = parameters
        else:
            # Encoded here, so that the body is exactly what privacyIDEA would send.
            as_json = self.options.SEND_DATA_AS_JSON == "yes"
            body = json.dumps(parameters) if as_json else urlencode(parameters)
            kwargs["content"] = body.encode()
            if not any(name.lower() == "content-type" for name in self.headers):
                kwargs["headers"] = {"Content-Type": _JSON if as_json else _FORM}
        client = self.client()
        try:
            async with asyncio.timeout(self.options.TIMEOUT):
                reply = await client.request(self.options.HTTP_METHOD, url, **kwargs)
        except TimeoutError:
            raise timed_out(self.options.TIMEOUT) from None
        except (httpx.HTTPError, aiohttp.ClientError) as exc:
            raise transport_error(exc) from None
        return self._judge(reply)

    def _judge(self, reply: httpx.Response) -> SendResult:
        status, text = reply.status_code, reply.text
        if status not in _SUCCESS_STATUSES:
            raise status_error(status, reply.headers, text, "gateway")
        if self.options.RETURN_FAIL and self.options.RETURN_FAIL in text:
            raise RejectedByGateway(
                "rejected", f"gateway reply contains the fail marker: {text[:200]}"
            )
        if self.options.RETURN_SUCCESS and self.options.RETURN_SUCCESS not in text:
            raise RejectedByGateway(
                "rejected", f"gateway reply lacks the success marker: {text[:200]}"
            )
        return SendResult(message_ids=[], parts=1, raw_status=f"{status} {text[:200]}")

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
