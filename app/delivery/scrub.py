"""A gateway's error as the outbox and the logs may keep it."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, quote_plus

ERROR_EXCERPT = 300  # characters of a failure kept in the message record and the service log
_DIGIT_RUN = re.compile(r"[0-9]{4,}")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e\u00a0-\u2027\u202a-\uffff]")


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
