"""What happens after a failed attempt, decided on the SendError's class alone."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from app.delivery.config import DeliveryConfig
from providers.base import (
    OutcomeUnknown,
    RejectedByGateway,
    RejectedNumber,
    SendError,
    TemporaryFailure,
    Throttled,
    Unreachable,
)

Outcome = Literal["accepted", "retryable", "permanent", "unknown"]
MAX_BACKOFF = 30.0
OWN_LIMIT = "gateway_limit"  # app/traffic/gateway_limits.GatewayThrottled


@dataclass(frozen=True)
class Step:
    action: Literal["retry", "failover", "fail"]
    hop: int  # the gateway (index into the route) of the next attempt
    delay: float = 0.0
    # Whether the failed attempt counts against the gateway's retries: not when the gateway
    # (or its own limit) only held the message back for a wait that fits the deadline.
    spends_try: bool = True


def outcome_of(error: SendError) -> Outcome:
    if isinstance(error, OutcomeUnknown):
        return "unknown"
    return "retryable" if error.retryable else "permanent"


def backoff(config: DeliveryConfig, tries: int) -> float:
    """Exponential, jittered ±50 %: senders that failed together do not retry together."""
    base = min(config.backoff * 2.0 ** max(tries - 1, 0), MAX_BACKOFF)
    return float(base * random.uniform(0.5, 1.5))


def next_step(
    error: SendError,
    *,
    hops: int,
    hop: int,
    hop_tries: int,
    remaining: float,
    config: DeliveryConfig,
) -> Step:
    """The next attempt after `error` on gateway `hop` (tried `hop_tries` times so far).

    `remaining` is the time left before the deadline; a wait that does not fit fails over.
    """
    nxt = hop + 1 if hop + 1 < hops else None
    tries_left = hop_tries <= config.retries

    def failover_or(fallback: Step) -> Step:
        return Step("failover", nxt) if nxt is not None else fallback

    fail = Step("fail", hop)
    same = Step("retry", hop, backoff(config, hop_tries)) if tries_left else fail
    if isinstance(error, RejectedNumber):
        return fail  # another gateway would refuse the number too
    if isinstance(error, RejectedByGateway):
        return failover_or(fail)  # never this gateway again for this message
    if isinstance(error, Throttled):
        # Held back, not refused: waiting is the remedy, so the gateway's "slow down" costs
        # no retry. The wait it named, else the backoff: "retry now" is not hammered. Our own
        # gateway limits (code OWN_LIMIT) count their waits while another gateway of the
        # route could take the message (a busy process that wakes past its slot gives the
        # slot up, and the retries bound how long it keeps trying before it spills over);
        # on the route's last gateway the deadline alone bounds the waits, so a message
        # that could still go out in time is not failed because its process was slow.
        named = error.retry_after
        wait = named if named is not None and named > 0 else backoff(config, hop_tries)
        counted = error.code == OWN_LIMIT and nxt is not None
        if wait < remaining and (tries_left or not counted):
            return Step("retry", hop, wait, spends_try=counted)
        return failover_or(fail)
    if isinstance(error, TemporaryFailure):
        return same if tries_left else failover_or(fail)
    if isinstance(error, Unreachable):
        return failover_or(same)
    if isinstance(error, OutcomeUnknown):
        # A retry may duplicate the message; for a login a duplicate beats a lost login.
        return fail if config.unknown_outcome == "fail" else failover_or(same)
    return failover_or(same) if error.retryable else failover_or(fail)
