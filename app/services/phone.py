"""Phone numbers: normalised to E.164 before anything is sent or stored."""

from __future__ import annotations

import re

from app.errors import ParameterError
from app.schemas.types import PHONE_SEPARATORS

# The same rule as the OpenAPI document's pattern for phone fields (ASCII digits only), so
# a client generated from it and the service agree on every number.
_SEPARATORS = re.compile(PHONE_SEPARATORS)


def normalise(phone: str, field: str = "phone") -> str:
    """'+49 (170) 123-4567' -> '+491701234567'; anything not E.164 is a 400."""
    number = _SEPARATORS.sub("", phone or "")
    if number.startswith("00"):
        number = "+" + number[2:]
    if not re.fullmatch(r"\+[1-9][0-9]{6,14}", number):
        raise ParameterError(
            f"ERR905: Invalid parameter: {field}: {phone[:40]!r} is not an international "
            "number in E.164 form (+<country code><number>, at most 15 digits)"
        )
    return number


def mask(phone: str) -> str:
    """Enough to recognise a number in the log, not enough to harvest it."""
    if len(phone) <= 6:
        return "*" * len(phone)
    return phone[:4] + "*" * (len(phone) - 6) + phone[-2:]
