"""Request and response models of /system."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

from app.schemas.gateway_wire import ROUTE_PATTERN
from app.schemas.types import MAX_NAME, NotNull, whole, without_null

KNOWN_KEYS = (
    "sms.identifier",
    "sms.providerTimeout",
    "sms.text",
    "sms.concurrent_challenges",
    "sms.inline_budget",
    "sms.async",
    "sms.deadline_margin",
    "sms.retries",
    "sms.backoff",
    "sms.send_validity",
    "sms.unknown_outcome",
    "sms.dlr_timeout",
)
ConfigKey = Literal[
    "sms.identifier",
    "sms.providerTimeout",
    "sms.text",
    "sms.concurrent_challenges",
    "sms.inline_budget",
    "sms.async",
    "sms.deadline_margin",
    "sms.retries",
    "sms.backoff",
    "sms.send_validity",
    "sms.unknown_outcome",
    "sms.dlr_timeout",
]

# privacyIDEA keeps every configuration value as text and its clients send "300" as often
# as 300; both are accepted, and the document says which strings are numbers in range.
TIMEOUT_MIN, TIMEOUT_MAX = 10, 86_400
_TIMEOUT_DIGITS = (
    r"^([1-9][0-9]|[1-9][0-9]{2,3}|[1-7][0-9]{4}|8[0-5][0-9]{3}|86[0-3][0-9]{2}|86400)$"
)
OTP_TAG = r"<otp>|\{otp\}"
# As privacyIDEA stores them; no case variants, so generated clients get distinct enum keys.
_TRUE = ("True", "1")
_FALSE = ("False", "0")


def _timeout(value: Any) -> Any:
    # re.search, as the document's validators read a pattern (`$` allows a final newline).
    if isinstance(value, str) and re.search(_TIMEOUT_DIGITS, value):
        return int(value)
    number = whole(value)
    if value is None or (number is not None and TIMEOUT_MIN <= number <= TIMEOUT_MAX):
        return number
    raise ValueError(f"must be a whole number of seconds, {TIMEOUT_MIN} to {TIMEOUT_MAX}")


def _flag(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if value in _TRUE or value in _FALSE:
        return value in _TRUE
    raise ValueError("must be true or false")


Timeout = Annotated[
    int | None,
    NotNull,
    BeforeValidator(_timeout),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": TIMEOUT_MIN, "maximum": TIMEOUT_MAX},
                {"type": "string", "pattern": _TIMEOUT_DIGITS},
            ],
            "description": "Seconds a challenge stays open (10 to 86400)",
        }
    ),
]
Flag = Annotated[
    bool | None,
    NotNull,
    BeforeValidator(_flag),
    WithJsonSchema({"anyOf": [{"type": "boolean"}, {"enum": [*_TRUE, *_FALSE]}]}),
]


def _number(value: Any) -> Any:
    # The delivery settings are smsgw's own: JSON numbers only, as the document says.
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    raise ValueError("must be a number")


def _whole_seconds(value: Any) -> Any:
    number = whole(value)
    if value is not None and number is None:
        raise ValueError("must be a whole number")
    return number


Number = BeforeValidator(_number)
WholeSeconds = BeforeValidator(_whole_seconds)
# The bounds sit on the non-null branch, where the document shows them as minimum/maximum.
InlineBudget = Annotated[
    Annotated[float, Field(ge=0, le=60)] | None,
    NotNull,
    Number,
    Field(description="Seconds a synchronous login or /sms/send fails over inline"),
]
Backoff = Annotated[
    Annotated[float, Field(ge=0.01, le=60)] | None,
    NotNull,
    Number,
    Field(description="Seconds before a gateway's first retry; doubled, jittered"),
]
DeadlineMargin = Annotated[
    Annotated[int, Field(ge=0, le=86_400)] | None,
    NotNull,
    WholeSeconds,
    Field(description="A challenge's SMS is not attempted after its expiry minus this"),
]
Retries = Annotated[
    Annotated[int, Field(ge=0, le=10)] | None,
    NotNull,
    WholeSeconds,
    Field(description="Retries on the same gateway after a temporary failure"),
]
SendValidity = Annotated[
    Annotated[int, Field(ge=10, le=604_800)] | None,
    NotNull,
    WholeSeconds,
    Field(description="A /sms/send message is not attempted later than this after acceptance"),
]
DlrTimeout = Annotated[
    Annotated[int, Field(ge=60, le=604_800)] | None,
    NotNull,
    WholeSeconds,
    Field(
        description="Seconds a sent message waits for a final delivery report from a gateway "
        "that reports, before it is unknown"
    ),
]


class SetConfigIn(BaseModel):
    """Keys and values to set (at least one); smsgw serves the sms.* keys."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=without_null(
            minProperties=1,
            examples=[{"sms.identifier": "my-gateway", "sms.text": "Your code: {otp}"}],
        ),
    )

    identifier: Annotated[
        str | None,
        NotNull,
        Field(
            alias="sms.identifier",
            min_length=1,
            max_length=MAX_NAME,
            pattern=ROUTE_PATTERN,
            description="The gateway (name) challenges go through",
        ),
    ] = None
    provider_timeout: Annotated[Timeout, Field(alias="sms.providerTimeout")] = None
    text: Annotated[
        str | None,
        NotNull,
        Field(
            alias="sms.text",
            min_length=1,
            max_length=1000,
            description="The SMS; must contain <otp> or {otp}",
            json_schema_extra={"pattern": OTP_TAG},
        ),
    ] = None
    concurrent_challenges: Annotated[Flag, Field(alias="sms.concurrent_challenges")] = None
    inline_budget: Annotated[InlineBudget, Field(alias="sms.inline_budget")] = None
    async_: Annotated[
        Flag,
        Field(alias="sms.async", description="Answer CHALLENGE at once; send from the outbox"),
    ] = None
    deadline_margin: Annotated[DeadlineMargin, Field(alias="sms.deadline_margin")] = None
    retries: Annotated[Retries, Field(alias="sms.retries")] = None
    backoff: Annotated[Backoff, Field(alias="sms.backoff")] = None
    send_validity: Annotated[SendValidity, Field(alias="sms.send_validity")] = None
    unknown_outcome: Annotated[
        Literal["failover", "fail"] | None,
        NotNull,
        Field(
            alias="sms.unknown_outcome",
            description="After a send that may have gone out: the next gateway, or fail",
        ),
    ] = None

    dlr_timeout: Annotated[DlrTimeout, Field(alias="sms.dlr_timeout")] = None

    @field_validator("text")
    @classmethod
    def _has_otp_tag(cls, value: str | None) -> str | None:
        if value is not None and not re.search(OTP_TAG, value):
            raise ValueError("must contain the <otp> or {otp} tag")
        return value
