"""The calls a sender makes when an attempt and a message end: metrics and the log line.

The delivery engine (app/delivery/engine.py) calls `message_started` when it takes a
message up, `attempt_finished` after each try of a gateway and `message_finished` at the
message's final state.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from contextvars import ContextVar

from app.db.health_repo import CIRCUIT_OPEN
from app.observability import context, metrics
from app.observability.metrics import SendOutcome
from providers.base import SendError

log = logging.getLogger("smsgw.send")
# When the engine began driving the message this task drives (perf_counter).
_started: ContextVar[float] = ContextVar("smsgw_message_started", default=0.0)
_CODES = re.compile(r"\d{4,}")


def hide(phone: str, text: str) -> None:
    """Keep a send's number, its text and any code in the text out of the log."""
    context.hide(phone, text, *_CODES.findall(text))


def message_started() -> None:
    """The engine begins driving a message in this task: its duration counts from here."""
    _started.set(time.perf_counter())


def attempt_finished(gateway: str, error: BaseException | None, seconds: float) -> None:
    if isinstance(error, SendError) and error.code == CIRCUIT_OPEN:
        return  # skipped, not tried: the gateway's own counts stay its own
    metrics.attempt(gateway, metrics.attempt_outcome(error), seconds)


def message_finished(
    gateway: str,
    outcome: SendOutcome,
    seconds: float | None,
    message_id: int | asyncio.Future[int] | None,
    *,
    error: str = "",
    source: str = "",
) -> None:
    """Count the message and log it with its id (at once, or when its row is written);
    `seconds` None: since `message_started` in this task."""
    if seconds is None:
        started = _started.get()
        seconds = time.perf_counter() - started if started else 0.0
    metrics.send(gateway, outcome, seconds)
    fields = {
        "gateway": gateway,
        "outcome": outcome,
        "latency_ms": round(seconds * 1000, 2),
        "source": source,
    }

    def write(identifier: int | None) -> None:
        level = logging.INFO if outcome == "sent" else logging.WARNING
        line, args = ("sms %s: %s", (outcome, error)) if error else ("sms %s", (outcome,))
        log.log(level, line, *args, extra={**fields, "message_id": identifier})

    if message_id is None or isinstance(message_id, int):
        write(message_id)
        return

    def written(done: asyncio.Future[int]) -> None:
        ok = not done.cancelled() and done.exception() is None
        write(done.result() if ok else None)

    message_id.add_done_callback(written)
