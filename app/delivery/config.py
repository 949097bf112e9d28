"""The delivery settings an admin changes at run time (sms.* keys of /system/setConfig)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

UnknownPolicy = Literal["failover", "fail"]
TRUE = frozenset({"1", "true", "True", "yes", "on"})


@dataclass(frozen=True)
class DeliveryConfig:
    inline_budget: float = 5.0  # seconds a synchronous caller waits for an accepted attempt
    async_challenges: bool = False  # sms.async: answer CHALLENGE first, send from the outbox
    deadline_margin: float = 60.0  # a challenge's deadline is its expiry minus this
    retries: int = 2  # same-gateway retries after a temporary failure, before failing over
    backoff: float = 0.5  # seconds before the first same-gateway retry, doubled each time
    send_validity: float = 3600.0  # a /sms/send message's deadline, from its acceptance
    unknown_outcome: UnknownPolicy = "failover"  # when a send may or may not have gone out
    dlr_timeout: float = 86400.0  # seconds a sent message waits for its final report


def margin(config: DeliveryConfig, validity: float) -> timedelta:
    """How long before a challenge expires its SMS is no longer attempted: the configured
    margin, but at most half the validity, so a short-lived challenge still gets its SMS."""
    return timedelta(seconds=min(config.deadline_margin, validity / 2))


def parse(values: Mapping[str, str]) -> DeliveryConfig:
    """The settings from stored config values; a value that does not parse keeps its default."""
    default = DeliveryConfig()

    def number(key: str, fallback: float) -> float:
        try:
            return float(values[key])
        except (KeyError, ValueError):
            return fallback

    unknown = values.get("sms.unknown_outcome", default.unknown_outcome)
    return DeliveryConfig(
        inline_budget=number("sms.inline_budget", default.inline_budget),
        async_challenges=values.get("sms.async", "") in TRUE,
        deadline_margin=number("sms.deadline_margin", default.deadline_margin),
        retries=int(number("sms.retries", default.retries)),
        backoff=number("sms.backoff", default.backoff),
        send_validity=number("sms.send_validity", default.send_validity),
        unknown_outcome="fail" if unknown == "fail" else "failover",
        dlr_timeout=number("sms.dlr_timeout", default.dlr_timeout),
    )
