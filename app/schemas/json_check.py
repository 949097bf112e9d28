"""A JSON Schema check for the schemas this service writes itself (the gateway bodies), so
the service enforces exactly what its document says.

Only the keywords those schemas use are understood, and an unknown one is an error when
the schema is checked, never silently passed. Patterns are Python regular expressions
searched as JSON Schema says (unanchored), the way schema-driven test tools generate them;
`format` is an annotation, as in JSON Schema 2020-12 by default.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_ANNOTATIONS = frozenset(
    {"title", "description", "examples", "default", "format", "discriminator", "deprecated"}
)
_KEYWORDS = _ANNOTATIONS | {
    "type",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "anyOf",
    "allOf",
    "oneOf",
    "properties",
    "patternProperties",
    "additionalProperties",
    "propertyNames",
    "required",
    "maxProperties",
    "items",
    "if",
    "then",
    "else",
}


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":  # JSON Schema counts 5.0 as an integer
        return not isinstance(value, bool) and (
            isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        )
    if kind == "number":
        return not isinstance(value, bool) and isinstance(value, int | float)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "array":
        return isinstance(value, list)
    if kind == "null":
        return value is None
    raise ValueError(f"unknown type {kind!r}")


def _same(a: Any, b: Any) -> bool:
    # JSON equality: true is not 1.
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def errors(schema: dict[str, Any], value: Any, where: str = "") -> list[str]:
    """Every way `value` breaks `schema`, each prefixed with the dotted path of the field."""
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError(f"schema keyword(s) not understood: {sorted(unknown)}")
    found: list[str] = []
    at = f"{where}: " if where else ""

    def fail(reason: str) -> None:
        found.append(at + reason)

    kinds = schema.get("type")
    if kinds is not None:
        options = [kinds] if isinstance(kinds, str) else kinds
        if not any(_is_type(value, kind) for kind in options):
            fail(f"must be of type {' or '.join(options)}")
            return found
    if "const" in schema and not _same(value, schema["const"]):
        fail(f"must be {schema['const']!r}")
    if "enum" in schema and not any(_same(value, v) for v in schema["enum"]):
        fail(f"must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        _check_string(schema, value, fail)
    if _is_type(value, "number"):
        _check_number(schema, value, fail)
    if isinstance(value, dict):
        found += _check_object(schema, value, where, fail)
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += errors(schema["items"], item, f"{where}[{index}]")
    for sub in schema.get("allOf", []):
        found += errors(sub, value, where)
    if "anyOf" in schema:
        branches = [errors(sub, value, where) for sub in schema["anyOf"]]
        if all(branches):
            found += branches[0] if len(branches) == 1 else [_any_of(at, branches)]
    if "if" in schema:
        branch = "else" if errors(schema["if"], value, where) else "then"
        found += errors(schema.get(branch, {}), value, where)
    if "oneOf" in schema:
        matching = sum(not errors(sub, value, where) for sub in schema["oneOf"])
        if matching != 1:
            fail(f"must match exactly one of {len(schema['oneOf'])} forms ({matching} match)")
    return found


def _any_of(at: str, branches: list[list[str]]) -> str:
    reasons = "; or ".join(", ".join(b).removeprefix(at) for b in branches)
    return f"{at}none of the accepted forms fits: {reasons}"


def _check_string(schema: dict[str, Any], value: str, fail: Any) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        fail(f"must have at least {schema['minLength']} characters")
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        fail(f"must have at most {schema['maxLength']} characters")
    if "pattern" in schema and not _compiled(schema["pattern"]).search(value):
        pattern = schema["pattern"]
        fail(f"must match {pattern}" if len(pattern) <= 40 else "is not of the documented form")


def _check_number(schema: dict[str, Any], value: float, fail: Any) -> None:
    if "minimum" in schema and value < schema["minimum"]:
        fail(f"must be at least {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        fail(f"must be at most {schema['maximum']}")
    if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
        fail(f"must be greater than {schema['exclusiveMinimum']}")
    if "exclusiveMaximum" in schema and value >= schema["exclusiveMaximum"]:
        fail(f"must be less than {schema['exclusiveMaximum']}")


def _check_object(
    schema: dict[str, Any], value: dict[str, Any], where: str, fail: Any
) -> list[str]:
    found: list[str] = []
    prefix = f"{where}." if where else ""
    for key in schema.get("required", []):
        if key not in value:
            fail(f"{key} is required")
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        fail(f"must have at most {schema['maxProperties']} entries")
    properties = schema.get("properties", {})
    patterns = schema.get("patternProperties", {})
    additional = schema.get("additionalProperties", True)
    for key, item in value.items():
        path = f"{prefix}{key}"
        if "propertyNames" in schema:
            found += [f"{path}: the name {e}" for e in errors(schema["propertyNames"], key)]
        matched = False
        if key in properties:
            matched = True
            found += errors(properties[key], item, path)
        for pattern, sub in patterns.items():
            if _compiled(pattern).search(key):
                matched = True
                found += errors(sub, item, path)
        if not matched:
            if additional is False:
                found.append(f"{path}: not accepted here")
            elif isinstance(additional, dict):
                found += errors(additional, item, path)
    return found
