"""What the rules need to know about a destination number, from `phonenumbers`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType

# The names the API uses for phonenumbers' types.
TYPE_NAMES: dict[int, str] = {
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}
NUMBER_TYPES = tuple(TYPE_NAMES.values())
PREFIX_CUT = 3  # a prefix is the number without its last three digits


class InvalidNumber(ValueError):
    """A number phonenumbers cannot parse, or one no country uses."""


@dataclass(frozen=True, slots=True)
class NumberFacts:
    number: str  # E.164
    prefix: str
    country: str  # ISO 3166-1 alpha-2, "001" for non-geographic numbers
    kind: str  # one of NUMBER_TYPES


@lru_cache(maxsize=65536)
def facts(number: str) -> NumberFacts:
    """Country, type and prefix of an E.164 number; cached, a login asks for it every time."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidNumber(f"{number[:4]}…: {exc}") from None
    # Possible, not valid: enrolment accepts what is possible, and a numbering plan that
    # grew since the metadata was built must not lock its users out.
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumber(f"{number[:4]}…: not a possible phone number")
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return NumberFacts(
        number=e164,
        prefix=e164[:-PREFIX_CUT],
        country=phonenumbers.region_code_for_number(parsed)
        or phonenumbers.region_code_for_country_code(parsed.country_code or 0),
        kind=TYPE_NAMES.get(phonenumbers.number_type(parsed), "unknown"),
    )


def is_country(code: str) -> bool:
    return code in phonenumbers.SUPPORTED_REGIONS
