"""Gateways into local peers, and waiting on a condition rather than the clock."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.peers.http_sink import HttpSink
from tests.peers.ports import free_port

PHONE = "+491701234567"


async def http_gateway(api: Any, name: str, url: str, **options: str) -> None:
    body = {
        "name": name,
        "module": "providers.http.HttpProvider",
        "option.URL": url,
        "option.HTTP_METHOD": "POST",
        "option.to": "{phone}",
        "option.text": "{otp}",
        "option.TIMEOUT": "3",
        **{f"option.{k}": v for k, v in options.items()},
    }
    await api.post("/smsgateway", body)


def refusing_url() -> str:
    """An address where nothing listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}/send"


class FlakySink(HttpSink):
    """Answers `failures` with the given status first, then 200."""

    def __init__(self, failures: int, status: int = 503) -> None:
        super().__init__()
        self.failures, self.failure_status = failures, status

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.status = self.failure_status if self.count < self.failures else 200
        return await super()._handle(request)


async def messages(api: Any, **params: str) -> list[dict[str, Any]]:
    page = await api.value("/sms/messages", params=params)
    found: list[dict[str, Any]] = page["messages"]
    return found


async def fast_retries(api: Any) -> None:
    await api.post("/system/setConfig", {"sms.backoff": 0.01})
