"""Field types shared by the request models, each documented exactly as it is enforced.

privacyIDEA's clients send numbers where text is meant: its HTTP SMS provider, in JSON
mode, posts every option value through `json.loads`, so an OTP text arrives as the JSON
number 645259. `AsText` accepts such an integer as its decimal digits and says so in the
document (`string` or `integer`); floats, booleans, objects and lists stay refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

MAX_NAME = 255  # user names, realms, gateway and policy names, keys: privacyIDEA's columns


def whole(value: Any) -> int | None:
    """The value as an int if it is a JSON integer: JSON Schema counts 5.0 as one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _whole_number(value: Any) -> Any:
    number = whole(value)
    if number is None and value is not None:
        raise ValueError("must be a whole number")
    return value if number is None else number


WholeNumber = BeforeValidator(_whole_number)
"""An integer field: 5 and 5.0 (the same JSON integer) pass, "5", true and 5.5 do not."""


def integer_bound(max_length: int) -> int:
    # The largest integer whose digits (and sign) still fit the string's maxLength.
    # Capped at 15 digits, below 2**53: tools that read the document's bounds as doubles
    # (schemathesis among them) would otherwise round them. OTPs and PINs fit easily.
    digits: int = min(max(max_length - 1, 1), 15)
    return int(10**digits) - 1


@dataclass(frozen=True)
class AsText:
    """`Annotated[str, AsText(255)]`: a string of at most max_length characters, or an
    integer read as its decimal digits (documented as string or integer)."""

    max_length: int
    min_length: int = 0
    description: str | None = None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        bound = integer_bound(self.max_length)

        def integer_as_text(value: Any) -> Any:
            number = whole(value)
            if number is None:
                return value
            if abs(number) > bound:
                raise ValueError(f"an integer here has at most {len(str(bound))} digits")
            return str(number)

        return core_schema.no_info_before_validator_function(
            integer_as_text,
            core_schema.str_schema(min_length=self.min_length, max_length=self.max_length),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        string: dict[str, Any] = {"type": "string", "maxLength": self.max_length}
        if self.min_length:
            string["minLength"] = self.min_length
        bound = integer_bound(self.max_length)
        result: dict[str, Any] = {
            "anyOf": [string, {"type": "integer", "minimum": -bound, "maximum": bound}]
        }
        if self.description:
            result["description"] = self.description
        return result


def _no_null(value: Any) -> Any:
    # Absent and null differ: the document marks these fields optional, not nullable.
    if value is None:
        raise ValueError("must not be null; leave the field out instead")
    return value


NotNull = BeforeValidator(_no_null)
"""On an `X | None = None` field of a model whose schema goes through `without_null`:
optional, but an explicit null is refused."""
OptionalName = Annotated[str | None, NotNull, Field(min_length=1, max_length=MAX_NAME)]


def without_null(**extra: Any) -> Callable[[dict[str, Any]], None]:
    """A model's json_schema_extra: merges `extra` and drops the null branch of every
    optional property, because NotNull refuses null (absent and null differ)."""

    def apply(schema: dict[str, Any]) -> None:
        for prop in schema.get("properties", {}).values():
            if "default" in prop and prop["default"] is None:
                del prop["default"]
            branches = prop.get("anyOf")
            if not branches or {"type": "null"} not in branches:
                continue
            rest = [b for b in branches if b != {"type": "null"}]
            del prop["anyOf"]
            if len(rest) == 1:
                prop.update(rest[0])
            else:
                prop["anyOf"] = rest
        schema.update(extra)

    return apply


# Separators a number may carry ("+49 (170) 123-4567"); what is left must be E.164.
PHONE_SEPARATORS = r"[ \t./()-]"
_S = PHONE_SEPARATORS
PHONE_PATTERN = rf"^{_S}*(\+|0{_S}*0){_S}*[1-9]({_S}*[0-9]){{6,14}}{_S}*$"
Phone = Annotated[
    str,
    BeforeValidator(lambda value: str(value) if whole(value) is not None else value),
    Field(min_length=1, max_length=40),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": 40,
            "pattern": PHONE_PATTERN,
            "description": "International number: +<country code><number> (or 00...), "
            "at most 15 digits; spaces, dots, dashes, slashes and brackets are ignored. "
            "A JSON integer is read as its digits, which lack the leading +",
        }
    ),
]


__all__ = [
    "MAX_NAME",
    "PHONE_PATTERN",
    "AsText",
    "NotNull",
    "OptionalName",
    "Phone",
    "WholeNumber",
    "integer_bound",
    "whole",
    "without_null",
]
