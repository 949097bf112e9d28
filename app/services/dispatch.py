"""The one way anything is sent: /sms/send, challenges and triggerchallenge all come here.

Retries, failover, rate limits and an outbox will wrap `send` without touching the routes
or the providers; today it sends once and records the outcome.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

from app.db.message_repo import MESSAGES
from app.db.tables import utcnow
from app.runtime import Runtime
from app.schemas.sms import MessageOut
from app.services import gateways
from app.services.phone import mask
from app.traffic.gateway_limits import admitted
from providers.base import SendError, internal_error
from providers.registry import OptionsInvalid, UnknownProvider

log = logging.getLogger("smsgw.dispatch")
# How long a send may wait for its gateway's rate, daily cap or concurrency to let it go.
_MAX_WAIT = 10.0
ERROR_EXCERPT = 300  # characters of a failure kept in the message log and the service log
_DIGIT_RUN = re.compile(r"[0-9]{4,}")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\u2027\u202a-\uffff]")


@dataclass(frozen=True)
class Outgoing:
    gateway: str
    phone: str  # already normalised
    message: str
    source: str = "api"
    serial: str = ""
    transaction_id: str = ""


async def send(rt: Runtime, outgoing: Outgoing) -> MessageOut:
    """Send one message and log it; a failure is logged too and comes back as status 'failed'.

    An unknown gateway raises NotFound before anything is attempted.
    """
    entry = await _attempt(rt, outgoing)
    entry["id"] = await rt.journal.record(MESSAGES, entry)
    return to_out(entry)


async def deliver(rt: Runtime, outgoing: Outgoing) -> dict[str, Any]:
    """Send one message for a login; its message-log row, not yet written: the login writes
    it together with its audit row (`audit.note_login`)."""
    return await _attempt(rt, outgoing)


async def _attempt(rt: Runtime, outgoing: Outgoing) -> dict[str, Any]:
    """Send once through the gateway; the message-log row that says how it went."""
    config = await gateways.config_for_send(rt, outgoing.gateway)
    started = utcnow()
    clock = time.perf_counter()
    ids: list[str] = []
    parts, error = 0, ""
    try:
        async with admitted(rt, config, _MAX_WAIT), rt.pool.lease(config) as provider:
            result = await provider.send(outgoing.phone, outgoing.message)
        ids, parts = result.message_ids, result.parts
    except SendError as exc:
        error = f"{exc.code}: {exc.message}"
    except (OptionsInvalid, UnknownProvider) as exc:
        # Stored before validation existed, or its provider was removed: fail, don't crash.
        error = f"gateway definition unusable: {exc}"
    except Exception as exc:
        # Whatever else goes wrong, the send failed; the caller gets its answer, not a 500.
        failure = internal_error(exc, f"sending through {outgoing.gateway}")
        error = f"{failure.code}: {failure.message}"
    latency_ms = (time.perf_counter() - clock) * 1000
    if error:
        error = excerpt(error, phone=outgoing.phone, message=outgoing.message)
        log.warning("send through %s failed: %s", outgoing.gateway, error)
    return {
        "created_at": started,
        "finished_at": utcnow(),
        "gateway": outgoing.gateway,
        "phone": mask(outgoing.phone),
        "status": "failed" if error else "sent",
        "attempts": 1,
        "parts": parts,
        "latency_ms": round(latency_ms, 2),
        "provider_ids": ",".join(ids),
        "error": error,
        "source": outgoing.source,
        "serial": outgoing.serial,
        "transaction_id": outgoing.transaction_id,
    }


def excerpt(error: str, *, phone: str, message: str) -> str:
    """A gateway's error as the logs may keep it: bounded, one line, without the message
    text or any run of four or more digits from the number or the text.

    Gateways echo what they were sent ("invalid text 'Your code 123456' for 491701234567"),
    and the logs must not become a store of numbers and codes.
    """
    text = message.strip()
    if len(text) >= 4:
        # As sent, and as the gateway may have echoed it: URL-encoded or JSON-escaped.
        variants = {text, quote(text), quote_plus(text), json.dumps(text)[1:-1]}
        for variant in sorted(variants, key=len, reverse=True):
            error = error.replace(variant, "<text>")
    secret_digits = "".join(c for c in phone if c.isdigit()), message

    def scrub(run: re.Match[str]) -> str:
        digits = run.group()
        if any(digits in source for source in secret_digits):
            return "<digits>"
        # A longer run that holds the number (a prefix, a suffix) goes too.
        if secret_digits[0] and secret_digits[0][-6:] in digits:
            return "<digits>"
        return digits

    error = _DIGIT_RUN.sub(scrub, error)
    error = _UNPRINTABLE.sub(" ", error)
    if len(error) > ERROR_EXCERPT:
        error = error[: ERROR_EXCERPT - 1] + "…"
    return error


def to_out(entry: Mapping[str, Any]) -> MessageOut:
    """A message-log row (as its column values) in the API's shape."""
    return MessageOut(
        **{**entry, "provider_ids": [i for i in entry["provider_ids"].split(",") if i]}
    )
