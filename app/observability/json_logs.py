"""SMSGW_LOG_FORMAT=json: one JSON object per line, scrubbed of numbers, codes and secrets.

The code that logs already avoids PINs, OTPs, message texts, full numbers and secrets;
the formatter is the net under it, for what arrives inside an exception or a provider's
error text: values registered with `context.hide`, anything shaped like a phone number, and
the value after a key that names a secret.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from app.observability import context

# Fields a log call may add with `extra=`; anything else on the record is logging's own.
FIELDS = (
    "route",
    "method",
    "status",
    "latency_ms",
    "client",
    "message_id",
    "gateway",
    "outcome",
    "parts",
    "source",
)
_PHONE = re.compile(r"(?<![\w.])\+?\d(?:[ \-]?\d){6,14}(?![\w.])")
_SECRET_VALUE = re.compile(
    r"(?i)(\b(?:pass(?:word)?|pin|otp|secret|token|api[_-]?key|authorization|text|message)"
    r"\b[\"']?\s*[:=]\s*[\"']?)([^\"'\s,;&}]+)"
)


def _mask_phone(match: re.Match[str]) -> str:
    digits = match.group(0)
    return digits[:4] + "…" + digits[-2:] if len(digits) > 8 else "…"


def scrub(text: str) -> str:
    """`text` without registered values, phone numbers or the values of secret keys."""
    for value in context.hidden():
        text = text.replace(value, "[hidden]")
    text = _SECRET_VALUE.sub(r"\1[hidden]", text)
    return _PHONE.sub(_mask_phone, text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        request_id = context.request_id.get()
        if request_id:
            entry["request_id"] = request_id
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return orjson.dumps(entry).decode()


class ScrubbingFormatter(logging.Formatter):
    """The text format, with the same net over the message and any traceback (not over the
    timestamp, whose digits look like a number)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = scrub(record.message)
        line = super().formatMessage(record)
        request_id = context.request_id.get()
        return f"{line} [{request_id}]" if request_id else line

    def formatException(self, ei: Any) -> str:
        return scrub(super().formatException(ei))
