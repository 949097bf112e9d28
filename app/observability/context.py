"""What a log line knows about the request it was written in, and what it must not show."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

request_id: ContextVar[str] = ContextVar("smsgw_request_id", default="")
# Values that must never reach a log line, registered by the code that handles them
# (the phone number and text of a send). A tuple, so a copied context never sees a
# value added in another task.
_hidden: ContextVar[tuple[str, ...]] = ContextVar("smsgw_hidden", default=())

_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def accept_request_id(header: str | None) -> str:
    """The caller's X-Request-ID if it is a plain token, else a new one.

    A header is echoed into every log line, so anything that could forge a line or smuggle
    a value is replaced rather than trusted.
    """
    if header and _ACCEPTABLE_ID.fullmatch(header):
        return header
    return secrets.token_hex(8)


def hide(*values: str) -> None:
    """Keep these values out of every log line written from here on in this task."""
    fresh = tuple(v for v in values if v and len(v) >= 3)
    if fresh:
        _hidden.set(_hidden.get() + fresh)


def hidden() -> tuple[str, ...]:
    return _hidden.get()
