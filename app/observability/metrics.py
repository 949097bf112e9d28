"""The metrics every process counts, and the calls that count them.

Each call is one line at the place it describes (the request middleware, the send, the
login); nothing else in the service imports prometheus_client. Under `serve --workers N`
the values live in prometheus-client's multiprocess files (see multiprocess.py), so a
scrape of any worker sums them all.
"""

from __future__ import annotations

from typing import Literal

from prometheus_client import Counter, Histogram

from providers.base import OutcomeUnknown, SendError

AttemptOutcome = Literal["accepted", "retryable", "permanent", "unknown"]
SendOutcome = Literal["sent", "failed", "expired", "blocked"]

_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_SEND_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "smsgw_http_requests",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "smsgw_http_request_duration_seconds",
    "Time from a request's arrival to its answer's last byte, by route template",
    ["route", "method"],
    buckets=_HTTP_BUCKETS,
)
SENDS = Counter(
    "smsgw_sends",
    "Messages that reached a final state, by the gateway that took (or last tried) them",
    ["gateway", "outcome"],
)
SEND_LATENCY = Histogram(
    "smsgw_send_duration_seconds",
    "Time from a message's creation to its final state, by gateway",
    ["gateway"],
    buckets=_SEND_BUCKETS,
)
ATTEMPTS = Counter(
    "smsgw_send_attempts",
    "Attempts to hand a message to a gateway, by gateway and outcome",
    ["gateway", "outcome"],
)
ATTEMPT_LATENCY = Histogram(
    "smsgw_send_attempt_duration_seconds",
    "Time a gateway took to accept or refuse one attempt, by gateway",
    ["gateway"],
    buckets=_SEND_BUCKETS,
)
CHALLENGES_STARTED = Counter(
    "smsgw_challenges_started",
    "Challenges whose OTP went out, by how they began (PIN or triggerchallenge)",
    ["kind"],
)
CHALLENGES_ACCEPTED = Counter("smsgw_challenges_accepted", "Logins accepted with an OTP")
CHALLENGES_REJECTED = Counter("smsgw_challenges_rejected", "Logins rejected, by reason", ["reason"])


# Labelled series by their labels: `labels()` takes a lock and builds a key on every call,
# a third of what counting a request costs.
_counters: dict[tuple[Counter, tuple[str, ...]], Counter] = {}
_histograms: dict[tuple[Histogram, tuple[str, ...]], Histogram] = {}


def _count(metric: Counter, *labels: str, by: float = 1.0) -> None:
    child = _counters.get((metric, labels))
    if child is None:
        child = _counters[(metric, labels)] = metric.labels(*labels)
    child.inc(by)


def _observe(metric: Histogram, seconds: float, *labels: str) -> None:
    child = _histograms.get((metric, labels))
    if child is None:
        child = _histograms[(metric, labels)] = metric.labels(*labels)
    child.observe(seconds)


BLOCKS = Counter(
    "smsgw_blocks",
    "Traffic rules that matched a send or challenge, by rule and mode (enforce blocked it, "
    "monitor only noted it)",
    ["rule", "mode"],
)

DLRS = Counter(
    "smsgw_dlr",
    "Delivery reports taken, by gateway and the state they report (duplicates included)",
    ["gateway", "state"],
)
DLRS_REJECTED = Counter(
    "smsgw_dlr_rejected",
    "Delivery reports refused or unreadable, by gateway and reason",
    ["gateway", "reason"],
)


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    _count(HTTP_REQUESTS, route, method, str(status))
    _observe(HTTP_LATENCY, seconds, route, method)


def attempt_outcome(error: BaseException | None) -> AttemptOutcome:
    """How an attempt ended, from the error it raised (None: accepted)."""
    if error is None:
        return "accepted"
    if isinstance(error, OutcomeUnknown):
        return "unknown"
    if isinstance(error, SendError) and error.retryable:
        return "retryable"
    return "permanent"


def attempt(gateway: str, outcome: AttemptOutcome, seconds: float) -> None:
    _count(ATTEMPTS, gateway, outcome)
    _observe(ATTEMPT_LATENCY, seconds, gateway)


def send(gateway: str, outcome: SendOutcome, seconds: float) -> None:
    _count(SENDS, gateway, outcome)
    _observe(SEND_LATENCY, seconds, gateway)


def challenges_started(kind: str, count: int) -> None:
    _count(CHALLENGES_STARTED, kind, by=count)


def challenge_accepted() -> None:
    CHALLENGES_ACCEPTED.inc()


def challenge_rejected(reason: str) -> None:
    _count(CHALLENGES_REJECTED, reason)


def blocked(rule: str, mode: str) -> None:
    """A traffic rule matched: `mode` "enforce" refused the send, "monitor" only noted it."""
    _count(BLOCKS, rule, mode)


def dlr(gateway: str, state: str) -> None:
    _count(DLRS, gateway, state)


def dlr_rejected(gateway: str, reason: str) -> None:
    _count(DLRS_REJECTED, gateway, reason)
