"""Phone numbers: normalised to E.164 before anything is sent or stored."""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from app.errors import ParameterError

_SEPARATORS = re.compile(r"[\s\-./()]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PLUS = {"\uff0b", "\u207a", "\u208a", "\ufe62"}  # fullwidth, superscript, subscript, small


def ascii_digits(phone: str) -> str:
    """Any script's decimal digits (Arabic-Indic, fullwidth...) as ASCII digits, and
    plus signs of other widths as "+"; everything else as it was."""
    return "".join(
        str(unicodedata.decimal(char)) if char.isdecimal() else "+" if char in _PLUS else char
        for char in phone
    )


def normalise(phone: str, field: str = "phone") -> str:
    """'+49 (170) 123-4567' -> '+491701234567'; anything not E.164-possible is a 400.

    Digits of other scripts are read as the digits they are: what is stored and sent is
    always ASCII, which every gateway understands.
    """
    number = _SEPARATORS.sub("", ascii_digits(phone or ""))
    if number.startswith("00"):
        number = "+" + number[2:]
    if not _E164.fullmatch(number):
        raise ParameterError(
            f"ERR905: Invalid parameter: {field}: {phone[:40]!r} is not an international "
            "number in E.164 form (+<country code><number>, at most 15 digits)"
        )
    try:
        possible = phonenumbers.is_possible_number(phonenumbers.parse(number, None))
    except phonenumbers.NumberParseException:
        possible = False
    if not possible:
        raise ParameterError(
            f"ERR905: Invalid parameter: {field}: {phone[:40]!r} is not a possible phone number"
        )
    return number


def mask(phone: str) -> str:
    """Enough to recognise a number in the log, not enough to harvest it."""
    if len(phone) <= 6:
        return "*" * len(phone)
    return phone[:4] + "*" * (len(phone) - 6) + phone[-2:]
