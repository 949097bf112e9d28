"""Phone numbers: ASCII digits only, as the OpenAPI document's pattern says; digits of
other scripts are refused, never read as something a gateway might misunderstand."""

from __future__ import annotations

import pytest

from app.errors import ParameterError
from app.services.phone import normalise

ASCII = "+491701234567"


def in_script(zero: int, number: str = ASCII) -> str:
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in number)


@pytest.mark.parametrize(
    "phone",
    [
        in_script(0x0660),  # Arabic-Indic
        in_script(0x06F0),  # Extended Arabic-Indic (Persian, Urdu)
        in_script(0x0966),  # Devanagari
        in_script(0xFF10),  # fullwidth
        "\uff0b" + in_script(0xFF10)[1:],  # fullwidth plus sign too
        "+49 " + in_script(0x0660, "170") + " 1234567",  # mixed scripts
        in_script(0x0660, "00491701234567"),  # 00 prefix in Arabic-Indic digits
    ],
)
def test_digits_of_other_scripts_are_refused_naming_the_field(phone: str) -> None:
    with pytest.raises(ParameterError) as error:
        normalise(phone)
    assert "phone" in error.value.message


@pytest.mark.parametrize(
    "phone",
    [
        "+49170123456\u00b2",  # superscript two: a digit, but no decimal digit
        "+49170123456\u2167",  # Roman numeral eight
        "+4917012345\u0f33",  # Tibetan half zero
        "+4917012345\u2070",  # superscript zero
    ],
)
def test_numeric_characters_that_are_not_decimal_digits_are_refused(phone: str) -> None:
    with pytest.raises(ParameterError) as error:
        normalise(phone)
    assert "phone" in error.value.message


def test_an_ascii_number_with_separators_is_normalised() -> None:
    assert normalise("+49 (170) 123-4567") == ASCII
