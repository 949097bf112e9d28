"""An HTTP gateway that answers with message ids, and a client posting its reports."""

from __future__ import annotations

import json
from typing import Any

import httpx
from aiohttp import web

from tests.delivery.helpers import PHONE, http_gateway, messages
from tests.peers.http_sink import HttpSink


class IdSink(HttpSink):
    """Answers each send with the next id (m1, m2, ...), or with `parts` ids per send
    (m1.0, m1.1, ...) in a list, as a gateway does for a long message."""

    def __init__(self, parts: int = 1) -> None:
        super().__init__()
        self.parts = parts

    def next_ids(self) -> list[str]:
        n = self.count + 1
        return [f"m{n}"] if self.parts == 1 else [f"m{n}.{p}" for p in range(self.parts)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        ids = self.next_ids()
        if self.parts == 1:
            self.reply = json.dumps({"status": "queued", "message_id": ids[0]})
        else:
            self.reply = json.dumps({"messages": [{"id": i} for i in ids]})
        return await super()._handle(request)


async def reporting_gateway(api: Any, sink: HttpSink, name: str = "dlr", **options: str) -> str:
    """A gateway into the sink with a report token; returns its report path."""
    options.setdefault("MESSAGE_ID_FIELD", "message_id")
    await http_gateway(api, name, sink.url + "/send", **options)
    token = await api.post(f"/sms/gateways/{name}/dlr-token", {})
    path: str = token["path"]
    return path


async def send(api: Any, gateway: str = "dlr", message: str = "Hello") -> dict[str, Any]:
    record: dict[str, Any] = await api.post(
        "/sms/send", {"gateway": gateway, "phone": PHONE, "message": message}
    )
    return record


async def stored(api: Any, message_id: int) -> dict[str, Any]:
    found = {m["id"]: m for m in await messages(api)}
    return found[message_id]


async def report(api: Any, path: str, **fields: str) -> httpx.Response:
    """POST a report as JSON, the way most gateways call back."""
    return await api.client.post(path, json=fields)
