"""The rules of traffic control, their defaults, and their validation.

Everything an admin can set is a Pydantic model: a bad value is a 400 naming the field
before anything is stored. `Policy` is what a challenge is checked against, read from the
database through a short cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema

from app.schemas.types import WholeNumber
from app.traffic.numbers import NUMBER_TYPES

Scope = Literal["number", "prefix", "country", "ip", "user"]
Mode = Literal["enforce", "monitor"]
Permission = Literal["allow", "deny", "monitor"]
NumberType = Literal[
    "fixed_line",
    "mobile",
    "fixed_line_or_mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
]
assert set(NumberType.__args__) == set(NUMBER_TYPES)  # type: ignore[attr-defined]

RULE_NAME = r"^[a-z][a-z0-9_]{0,63}$"
SAFE_PATTERN = r"^\+[1-9][0-9]{1,14}$"
SAFE_ENTRY = re.compile(SAFE_PATTERN)
WEEK = 7 * 86400


class RuleIn(BaseModel):
    """A counting rule: at most `limit` challenges per `window` seconds per subject."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "number_10m", "scope": "number", "window": 600, "limit": 5}]
        },
    )

    name: str = Field(pattern=RULE_NAME, description="Lower-case letters, digits, _")
    scope: Scope = Field(description="What is counted: per number, prefix, country, IP, user")
    window: Annotated[int, WholeNumber] = Field(
        gt=0, le=WEEK, description="Seconds; a window starts at its first hit"
    )
    limit: Annotated[int, WholeNumber] = Field(
        ge=0, le=1_000_000, description="Challenges allowed per window"
    )
    mode: Mode = Field("enforce", description="monitor: count and audit, never block")
    active: bool = Field(True, strict=True)


class RuleOut(RuleIn):
    default: bool = Field(description="A built-in rule (deleting it restores its default)")


DEFAULT_RULES: tuple[RuleIn, ...] = (
    RuleIn(name="number_10m", scope="number", window=600, limit=5),
    RuleIn(name="number_24h", scope="number", window=86400, limit=10),
    RuleIn(name="prefix_1h", scope="prefix", window=3600, limit=20),
    RuleIn(name="ip_10m", scope="ip", window=600, limit=20),
    RuleIn(name="user_10m", scope="user", window=600, limit=20),
)
DEFAULT_NAMES = frozenset(rule.name for rule in DEFAULT_RULES)


# The regions phonenumbers knows: the document lists them, so a code no number can have is
# refused by the schema itself.
_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _known_region(code: str) -> str:
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{code[:8]!r} is not an ISO 3166-1 alpha-2 country code (upper case)")
    return code


CountryCode = Annotated[
    str,
    AfterValidator(_known_region),
    WithJsonSchema({"type": "string", "enum": _REGIONS}),
]


class CountryIn(BaseModel):
    """A Geo permission for the numbers of one country."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"code": "DE", "permission": "allow"}]},
    )

    code: CountryCode = Field(description="ISO 3166-1 alpha-2, upper case, e.g. DE")
    permission: Permission = Field(description="deny refuses; monitor sends and audits")
    hourly_cap: Annotated[int | None, WholeNumber] = Field(
        None, ge=0, le=1_000_000, description="Challenges per hour; null: no cap"
    )


# Countries whose number ranges are commonly abused for SMS pumping, per the public
# fraud reports of SMS-verification vendors. The preset marks them `monitor`; an operator
# who never serves them should set them to `deny`.
HIGH_RISK_PRESET: tuple[str, ...] = (
    "AF", "AZ", "BD", "BY", "CU", "DZ", "EG", "GH", "ID", "IQ", "IR", "KG", "KH", "KP",
    "KZ", "LA", "LK", "LY", "MM", "MN", "NG", "NP", "PK", "PS", "RU", "SD", "SO", "SS",
    "SY", "TJ", "TM", "UZ", "VN", "YE", "ZW",
)  # fmt: skip


class SafeIn(BaseModel):
    """A number, or a prefix of numbers, that no rule blocks."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"entry": "+4917012345", "note": "office phones"}]},
    )

    entry: str = Field(
        pattern=SAFE_PATTERN, description="'+' and 2 to 15 digits: a number or a prefix"
    )
    note: str = Field("", max_length=500)


GuardScope = Literal["prefix", "country"]
_GUARD_SCOPES: tuple[GuardScope, ...] = ("prefix", "country")
_REFUSED_TYPES: tuple[NumberType, ...] = ("premium_rate", "shared_cost")


class ConversionGuard(BaseModel):
    """Blocks a prefix or country whose challenges are rarely answered."""

    model_config = ConfigDict(extra="forbid")

    mode: Mode | Literal["off"] = "enforce"
    scopes: list[GuardScope] = Field(default_factory=lambda: list(_GUARD_SCOPES))
    window: Annotated[int, WholeNumber] = Field(3600, gt=0, le=WEEK, description="Seconds")
    min_sent: Annotated[int, WholeNumber] = Field(
        10, ge=1, le=1_000_000_000, description="Challenges in the window before it judges"
    )
    min_answered: float = Field(
        0.2, ge=0, le=1, strict=True, description="Answered share below which it blocks"
    )
    block: Annotated[int, WholeNumber] = Field(
        3600, gt=0, le=WEEK, description="First block, seconds; doubles each time"
    )
    max_block: Annotated[int, WholeNumber] = Field(
        86400, gt=0, le=30 * 86400, description="Longest block, seconds"
    )


class TrafficSettingsIn(BaseModel):
    """What is not a counting rule."""

    model_config = ConfigDict(extra="forbid")

    refused_types: list[NumberType] = Field(
        default_factory=lambda: list(_REFUSED_TYPES),
        description="Number types that get no challenge",
    )
    resend_cooldown: Annotated[int, WholeNumber] = Field(
        30, ge=0, le=3600, description="Seconds in which a PIN step answers the open challenge"
    )
    conversion: ConversionGuard = Field(default_factory=ConversionGuard)
    unlisted_countries: Permission = Field(
        "allow", description="The Geo permission of a country without one"
    )
    sms_send: bool = Field(
        False, strict=True, description="Put /sms/send under the rules, per caller"
    )


@dataclass(frozen=True)
class Policy:
    """Everything a check needs, as one immutable snapshot."""

    rules: tuple[RuleIn, ...]
    countries: dict[str, CountryIn] = field(default_factory=dict)
    safe: frozenset[str] = frozenset()
    settings: TrafficSettingsIn = field(default_factory=TrafficSettingsIn)

    def is_safe(self, number: str) -> bool:
        return any(number[:end] in self.safe for end in range(3, len(number) + 1))

    def permission(self, country: str) -> Permission:
        entry = self.countries.get(country)
        return entry.permission if entry else self.settings.unlisted_countries


def merged_rules(stored: list[RuleIn]) -> list[RuleOut]:
    """The defaults, each replaced by a stored rule of its name, then the other stored rules."""
    by_name = {rule.name: rule for rule in stored}
    rules = [RuleOut(**by_name.pop(d.name, d).model_dump(), default=True) for d in DEFAULT_RULES]
    return rules + [RuleOut(**r.model_dump(), default=False) for r in by_name.values()]
