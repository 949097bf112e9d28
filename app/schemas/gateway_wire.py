"""The body of POST /smsgateway, one exact schema per provider, generated from its options
model: what the document shows and what the service checks before anything else.

On the wire every option is text (a form carries nothing else) or a JSON integer read as its
digits, so each field of an options model becomes the texts its model accepts: numbers as
decimal text in the field's range, `Literal`s as their values, constrained strings without
the surrounding whitespace the model would strip. A field whose validator JSON Schema cannot
see says how it reads on the wire in its `json_schema_extra`: `x-wire` (the whole value
schema) or `x-wire-pattern` (a pattern the text must also match); a validator without one
is an error here, so a new one cannot widen the document unnoticed.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from app.schemas.json_check import errors
from app.schemas.types import integer_bound
from app.security.secret_box import CENSORED
from providers.base import ProviderOptions
from providers.registry import registry

MAX_VALUE = 4000  # the longest option or header value, as text
WIRE_KEYS = ("x-wire", "x-wire-pattern")
# Python's str.strip() whitespace: a constrained value may not carry it around itself, or
# "   " would pass minLength 1 here and be empty after the model strips it.
_WS = r"\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
UNPADDED = rf"^(?:[^{_WS}](?:[\s\S]*[^{_WS}])?)?$"
# A route: gateway names separated by commas, none of them empty once stripped (what
# services.gateways.check_route refuses with a 400).
_ROUTE_NAME = rf"[^,]*[^,{_WS}][^,]*"
ROUTE_PATTERN = rf"^{_ROUTE_NAME}(?:,{_ROUTE_NAME})*$"
_BOUND = integer_bound(MAX_VALUE)
_FRACTION = r"(?:\.[0-9]{1,6})?"  # six decimals: no text rounds across a bound


def component_name(model: type[ProviderOptions]) -> str:
    return model.__name__.removesuffix("Options") + "GatewayIn"


def _digits(lo: str, hi: str) -> list[str]:
    """Patterns for the decimal strings from lo to hi, both of the same length."""
    if lo == hi:
        return [lo]
    if len(lo) == 1:
        return [f"[{lo}-{hi}]"]
    rest = len(lo) - 1
    if lo[1:] == "0" * rest and hi[1:] == "9" * rest:
        return [f"[{lo[0]}-{hi[0]}][0-9]{{{rest}}}"]
    if lo[0] == hi[0]:
        return [lo[0] + "(?:" + "|".join(_digits(lo[1:], hi[1:])) + ")"]
    parts = [lo[0] + "(?:" + "|".join(_digits(lo[1:], "9" * rest)) + ")"]
    if int(hi[0]) - int(lo[0]) > 1:
        parts.append(f"[{int(lo[0]) + 1}-{int(hi[0]) - 1}][0-9]{{{rest}}}")
    parts.append(hi[0] + "(?:" + "|".join(_digits("0" * rest, hi[1:])) + ")")
    return parts


def integer_range(lo: int, hi: int | None) -> str:
    """A pattern (unanchored) for canonical decimal integers in [lo, hi]; hi None: no end."""
    if lo < 0 or (hi is not None and hi < lo):
        raise ValueError(f"no text form for the integer range {lo}..{hi}")
    parts: list[str] = []
    top = hi if hi is not None else 10 ** len(str(lo)) - 1
    for length in range(len(str(lo)), len(str(top)) + 1):
        start = max(lo, 10 ** (length - 1) if length > 1 else 0)
        end = min(top, 10**length - 1)
        if start <= end:
            parts += _digits(str(start), str(end))
    if hi is None:
        parts.append(f"[1-9][0-9]{{{len(str(lo))},{MAX_VALUE - 1}}}")
    return "(?:" + "|".join(parts) + ")"


def _bounds(schema: dict[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    lo, lo_open = schema.get("minimum"), False
    if "exclusiveMinimum" in schema:
        lo, lo_open = schema["exclusiveMinimum"], True
    hi, hi_open = schema.get("maximum"), False
    if "exclusiveMaximum" in schema:
        hi, hi_open = schema["exclusiveMaximum"], True
    return lo, lo_open, hi, hi_open


def _integer_forms(schema: dict[str, Any], key: str) -> list[dict[str, Any]]:
    lo, lo_open, hi, hi_open = _bounds(schema)
    first = 0 if lo is None else int(lo) + (1 if lo_open else 0)
    last = None if hi is None else int(hi) - (1 if hi_open else 0)
    if lo is None or lo != int(lo) or (hi is not None and hi != int(hi)):
        raise ValueError(f"{key}: only whole, non-negative bounds have a text form here")
    number: dict[str, Any] = {"type": "integer", "minimum": first}
    number["maximum"] = _BOUND if last is None else min(last, _BOUND)
    text = {"type": "string", "pattern": f"^{integer_range(first, last)}$"}
    return [number, text]


def _number_forms(schema: dict[str, Any], key: str) -> list[dict[str, Any]]:
    lo, lo_open, hi, hi_open = _bounds(schema)
    if lo is None or lo != int(lo) or hi is None or hi != int(hi) or hi <= lo:
        raise ValueError(f"{key}: only whole, non-negative bounds have a text form here")
    low, high = int(lo), int(hi)
    inner = integer_range(low + (1 if lo_open else 0), high - 1)
    alternatives = [inner + _FRACTION]
    if lo_open:
        alternatives.append(rf"{low}\.[0-9]{{0,5}}[1-9]")
    if not hi_open:
        alternatives.append(rf"{high}(?:\.0{{1,6}})?")
    number = {key: value for key, value in schema.items() if key in _NUMBER_BOUNDS}
    return [
        {"type": "integer", **number},
        {"type": "string", "pattern": "^(?:" + "|".join(alternatives) + ")$"},
    ]


_NUMBER_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_STRING_KEYS = ("minLength", "maxLength", "pattern", "format")


def _string_forms(schema: dict[str, Any], extra_pattern: str | None) -> list[dict[str, Any]]:
    text: dict[str, Any] = {"type": "string", "maxLength": MAX_VALUE}
    text |= {key: schema[key] for key in _STRING_KEYS if key in schema}
    text["maxLength"] = min(text["maxLength"], MAX_VALUE)
    if text.get("format") == "uri":
        del text["format"]
        text["pattern"] = HTTP_URL
    if extra_pattern:
        text["allOf"] = [{"pattern": extra_pattern}]
    if set(text) == {"type", "maxLength"}:  # free text: an integer's digits do too
        return [text, {"type": "integer", "minimum": -_BOUND, "maximum": _BOUND}]
    return [_unpadded(text)]


def _unpadded(form: dict[str, Any]) -> dict[str, Any]:
    """A constrained text without surrounding whitespace: the model strips it before it
    checks, so "   " would otherwise pass minLength 1 here and be empty there."""
    if form.get("type") != "string" or not (
        "minLength" in form or form.get("maxLength", MAX_VALUE) < MAX_VALUE or "pattern" in form
    ):
        return form
    return {**form, "allOf": [*form.get("allOf", []), {"pattern": UNPADDED}]}


def _value_forms(key: str, schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The non-empty wire forms of one option, from its property in the model's schema."""
    if "x-wire" in schema:
        wire: dict[str, Any] = schema["x-wire"]
        return [_unpadded(f) for f in (wire["anyOf"] if set(wire) == {"anyOf"} else [wire])]
    branches = [b for b in schema.get("anyOf", [schema]) if b.get("type") != "null"]
    if len(branches) != 1:
        raise ValueError(f"{key}: a union has no text form here")
    branch = branches[0]
    if "enum" in branch:
        return [{"type": "string", "enum": [str(v) for v in branch["enum"]]}]
    kind = branch.get("type")
    if kind == "integer":
        return _integer_forms(branch, key)
    if kind == "number":
        return _number_forms(branch, key)
    if kind == "string":
        return _string_forms(branch, schema.get("x-wire-pattern"))
    raise ValueError(f"{key}: type {kind!r} has no text form here")


def option_schema(key: str, schema: dict[str, Any], *, required: bool) -> dict[str, Any]:
    """Every wire value of one option: its forms, "" to clear it when optional, and the
    censored placeholder that keeps a stored value."""
    forms = _value_forms(key, schema)
    extras = ([] if required else [""]) + [CENSORED]
    forms += [{"const": v} for v in extras if all(errors(f, v) for f in forms)]
    described: dict[str, Any] = {"anyOf": forms} if len(forms) > 1 else dict(forms[0])
    if schema.get("description"):
        described["description"] = schema["description"]
    # No default here: a generated client would send it as if given (the *Options
    # components and /smsgateway/providers show the defaults).
    return described


def _checked_validators(model: type[ProviderOptions], properties: dict[str, Any]) -> None:
    decorators = model.__pydantic_decorators__
    if decorators.model_validators:
        raise ValueError(f"{model.__name__}: a model validator has no place in the wire schema")
    for validator in decorators.field_validators.values():
        for field in validator.info.fields:
            if not any(key in properties.get(field, {}) for key in WIRE_KEYS):
                raise ValueError(
                    f"{model.__name__}.{field} has a validator but no x-wire or x-wire-pattern"
                )


def provider_schema(module: str, common: dict[str, Any]) -> dict[str, Any]:
    """The exact body for one provider; `common` are GatewayIn's own properties."""
    provider = registry.resolve(module)
    model = provider.options_model
    model_schema = model.model_json_schema()
    properties = model_schema["properties"]
    _checked_validators(model, properties)
    required = list(model_schema.get("required", []))
    fields = {
        key: option_schema(key, prop, required=key in required) for key, prop in properties.items()
    }
    names = [module, *(a for a, name in registry.aliases().items() if name == module)]
    value = common["headers"]["additionalProperties"]
    key_schema = common["headers"]["propertyNames"]
    options: dict[str, Any] = {"type": "object", "properties": fields}
    if model.options_allowed:
        options |= {"propertyNames": key_schema, "additionalProperties": value}
    else:
        options["additionalProperties"] = False
    body: dict[str, Any] = {
        "type": "object",
        "title": component_name(model),
        "description": f"A gateway of {module}: {provider.description or module}. Options may "
        f"be given in `options` or as `option.KEY`; the values are those of {model.__name__}.",
        "properties": {
            "name": common["name"],
            "module": {"type": "string", "enum": names, "description": "The provider"},
            "description": common["description"],
            "id": common["id"],
            "options": options,
            "headers": common["headers"]
            if provider.headers_allowed
            else {"type": "object", "maxProperties": 0, "description": "Takes no headers"},
            "secret_options": common["secret_options"],
            "secret_headers": common["secret_headers"],
        }
        | {f"option.{key}": field for key, field in fields.items()},
        "patternProperties": _flattened(model.options_allowed, provider.headers_allowed, value),
        "additionalProperties": False,
        "required": ["name", "module"],
    }
    if required:
        # Required options in `options` when it is given, else as `option.KEY` (if/then/else,
        # not anyOf: a generated client then keeps one model per provider).
        body["if"] = {"required": ["options"]}
        body["then"] = {"properties": {"options": {"required": required}}}
        body["else"] = {"required": [f"option.{key}" for key in required]}
    return body


_KEY_TEXT = r"[^\x00-\x1f]{1,255}"
_FLAG = {"anyOf": [{"type": "boolean"}, {"type": "integer"}, {"type": "string", "maxLength": 10}]}


def _flattened(options: bool, headers: bool, value: dict[str, Any]) -> dict[str, Any]:
    patterns: dict[str, Any] = {
        rf"^secret\.option\.{_KEY_TEXT}$": _FLAG,
        rf"^secret\.header\.{_KEY_TEXT}$": _FLAG,
    }
    if options:
        patterns[rf"^option\.{_KEY_TEXT}$"] = value
    if headers:
        patterns[rf"^header\.{_KEY_TEXT}$"] = value
    return patterns


def _schemas() -> dict[str, dict[str, Any]]:
    # Keyed by the registered names: a provider registered (or removed) later is seen.
    return _schemas_of(tuple(registry.names()))


@cache
def _schemas_of(modules: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    from app.schemas.smsgateway import GatewayIn

    common = GatewayIn.model_json_schema()["properties"]
    return {module: provider_schema(module, common) for module in modules}


def body_schemas() -> dict[str, dict[str, Any]]:
    """Each provider's body schema by its canonical module name."""
    return _schemas()


def check(data: Any) -> list[str]:
    """Why a gateway body breaks its provider's schema; [] if it does not."""
    if not isinstance(data, dict):
        return ["the body must be an object"]
    module = data.get("module")
    if not isinstance(module, str) or module not in registry.accepted_names():
        names = ", ".join(registry.accepted_names())
        return [f"module: must be a provider from /smsgateway/providers: {names}"]
    return errors(_schemas()[registry.canonical(module)], data)


# http(s) URLs whose host is a DNS name (ASCII labels, no "--", the last starting with a
# letter: anything else a URL parser reads as an IPv4 address) or a dotted-quad IPv4 address.
_LABEL = r"[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_TOP = r"[A-Za-z](?:[A-Za-z0-9]*(?:-[A-Za-z0-9]+)*)"
_HOST = rf"(?:(?:{_LABEL}\.)*{_TOP}|{_OCTET}(?:\.{_OCTET}){{3}})"
_USER = r"[A-Za-z0-9._~!$&'()*+,;=%-]"
HTTP_URL = (
    rf"^https?://(?:{_USER}+(?::{_USER}*)?@)?{_HOST}"
    rf"(?::{integer_range(0, 65535)})?(?:[/?#][\x21-\x7e]*)?$"
)
