"""Counting logins: challenges started, answers accepted, rejections by reason."""

from __future__ import annotations

import re

from app.observability import metrics

# privacyIDEA's wording of each rejection (app/services/logins.py) -> a label value.
_REASONS = {
    "wrong otp pin": "wrong_pin",
    "wrong otp value": "wrong_otp",
    "Response did not match the challenge.": "no_match",
    "Failcounter exceeded": "locked",
    "The token is disabled": "disabled",
    "The user has no tokens assigned": "no_token",
    "The token does not exist": "no_token",
    "The PIN was correct, but the SMS could not be sent!": "sms_failed",
}


def reason(message: str) -> str:
    known = _REASONS.get(message)
    return known or re.sub(r"[^a-z]+", "_", message.lower()).strip("_")[:40] or "other"


def observe_login(authentication: str, message: str, challenges: int, kind: str) -> None:
    """One login's outcome: `kind` is "challenge" (PIN) or "trigger" (triggerchallenge)."""
    if authentication == "CHALLENGE":
        metrics.challenges_started(kind, challenges)
    elif authentication == "ACCEPT":
        metrics.challenge_accepted()
    else:
        metrics.challenge_rejected(reason(message))
