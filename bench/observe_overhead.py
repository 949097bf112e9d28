"""CPU the observability hooks add per request and per send, measured in-process.

    python -m bench.observe_overhead            # metrics in memory (one process)
    PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) python -m bench.observe_overhead   # --workers N

Logging at WARNING, as the other benchmarks run: the access line is then skipped. Compare
with `service_cpu_ms_per_request` of bench.dispatch and bench.login.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from typing import Any

from app.observability import sends
from app.observability.json_logs import JsonFormatter
from app.observability.middleware import RequestObserver


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def noop(message: Any) -> None:
    return None


async def rcv() -> dict[str, str]:
    return {"type": "http.request"}


class Route:
    path = "/validate/check"


scope = {"type": "http", "method": "POST", "headers": [(b"x-request-id", b"abc")], "route": Route()}


async def run(app: Any, n: int = 20000) -> float:
    t = time.process_time()
    for _ in range(n):
        await app(dict(scope), rcv, noop)
    return (time.process_time() - t) / n * 1e6


async def main() -> None:
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    bare = await run(app)
    observed = await run(RequestObserver(app))
    print(f"middleware+access log+metrics: {observed - bare:.1f} us per request")
    t = time.process_time()
    for _ in range(20000):
        sends.attempt_finished("gw", None, 0.2)
        sends.message_finished("gw", "sent", 0.2, 17, source="api")
    print(f"send hooks: {(time.process_time() - t) / 20000 * 1e6:.1f} us per send")


if __name__ == "__main__":
    asyncio.run(main())
