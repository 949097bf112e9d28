"""Request and response models of /smsgateway."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)

from app.schemas import gateway_wire
from app.schemas.types import MAX_NAME, AsText, WholeNumber, integer_bound

MAX_VALUE = 4000
# An option or header value: text, or an integer read as its digits (privacyIDEA's clients
# send numbers); floats and booleans are refused rather than guessed at.
OptionValue = Annotated[str, AsText(MAX_VALUE)]
KEY_PATTERN = r"^[^\x00-\x1f]+$"
_KEY = {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": KEY_PATTERN}
_VALUE = {
    "anyOf": [
        {"type": "string", "maxLength": MAX_VALUE},
        {
            "type": "integer",
            "minimum": -integer_bound(MAX_VALUE),
            "maximum": integer_bound(MAX_VALUE),
        },
    ]
}
_FLAG = {"anyOf": [{"type": "boolean"}, {"type": "integer"}, {"type": "string", "maxLength": 10}]}
# privacyIDEA's flattened keys, beside the declared properties.
FLATTENED: dict[str, Any] = {
    r"^option\.[^\x00-\x1f]{1,255}$": _VALUE,
    r"^header\.[^\x00-\x1f]{1,255}$": _VALUE,
    r"^secret\.option\.[^\x00-\x1f]{1,255}$": _FLAG,
    r"^secret\.header\.[^\x00-\x1f]{1,255}$": _FLAG,
}
_SECTIONS = {"option.": "options", "header.": "headers"}
_SECRET_SECTIONS = {"secret.option.": "secret_options", "secret.header.": "secret_headers"}
_TRUE = {"1", "true", "yes", "on"}


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in _TRUE


Key = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=KEY_PATTERN)]


def _keyed_values(schema: dict[str, Any]) -> None:
    # Every key is constrained, not only those matching a pattern (pydantic's rendering).
    schema.pop("patternProperties", None)
    schema["propertyNames"] = _KEY
    schema["additionalProperties"] = _VALUE


class GatewayIn(BaseModel):
    """The shape every gateway body shares. privacyIDEA's flattened keys (`option.URL`,
    `header.X`, `secret.option.K=1`) and the nested objects below are both accepted.
    POST /smsgateway takes the exact body of the provider `module` names (HttpGatewayIn,
    SmppGatewayIn, ...), which says which options that provider takes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "patternProperties": FLATTENED,
            "examples": [
                {
                    "name": "my-gateway",
                    "module": "providers.http.HttpProvider",
                    "description": "Bulk SMS provider",
                    "options": {
                        "URL": "https://sms.example.com/send",
                        "HTTP_METHOD": "POST",
                        "text": "{otp}",
                        "to": "{phone}",
                    },
                    "headers": {"X-Api-Key": "k3y"},
                    "secret_headers": ["X-Api-Key"],
                }
            ],
        },
    )

    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=r"^[^/\x00-\x1f]+$")
    module: str = Field(
        min_length=1, max_length=MAX_NAME, description="A provider name from /providers"
    )
    description: Annotated[str, AsText(2000)] = ""
    id: Annotated[int | None, WholeNumber] = Field(
        None, description="Ignored; gateways are keyed by name"
    )
    options: dict[Key, OptionValue] = Field(
        default_factory=dict,
        json_schema_extra=_keyed_values,
        description="Checked against the options model of `module` (the *Options components) "
        "before anything is stored; a 400 names every bad option",
    )
    headers: dict[Key, OptionValue] = Field(default_factory=dict, json_schema_extra=_keyed_values)
    secret_options: list[Key] = Field(
        default_factory=list, description="Option keys to encrypt (beside the automatic ones)"
    )
    secret_headers: list[Key] = Field(default_factory=list)

    # What the provider's exact body schema (the one the document shows for `module`) finds
    # wrong. The service refuses the body with these before anything else, inside its
    # audited write, so such a refusal is audited like any other failed write.
    _problems: list[str] = PrivateAttr(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self._problems

    @model_validator(mode="wrap")
    @classmethod
    def _checked(cls, data: Any, handler: ModelWrapValidatorHandler[GatewayIn]) -> GatewayIn:
        if isinstance(data, GatewayIn):
            return handler(data)
        problems = gateway_wire.check(data)
        gateway = handler(_unflatten(data))
        gateway._problems = problems
        return gateway


def _unflatten(data: Any) -> Any:
    """privacyIDEA's flattened keys moved into the nested objects."""
    if not isinstance(data, dict):
        return data
    result: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            result[key] = value
            continue
        secret_section = next((s for s in _SECRET_SECTIONS if key.startswith(s)), None)
        section = next((s for s in _SECTIONS if key.startswith(s)), None)
        if secret_section:
            if (
                isinstance(value, float)
                or not isinstance(value, str | int)
                or (isinstance(value, str) and len(value) > 10)
            ):
                raise ValueError(f"{key[:60]}: a flag is true/false, 1/0 or yes/no")
            # secret.option.K=0 only says "not flagged": the same as no flag, since names
            # with PASSWORD or SECRET and the provider's secrets stay secret regardless.
            if _truthy(value):
                result.setdefault(_SECRET_SECTIONS[secret_section], []).append(
                    key[len(secret_section) :]
                )
        elif section:
            target = _SECTIONS[section]
            nested = result.setdefault(target, {})
            if isinstance(nested, dict):
                nested[key[len(section) :]] = value
        elif key in ("options", "headers") and isinstance(value, dict):
            result.setdefault(key, {}).update(value)
        elif key in result and isinstance(result[key], list) and isinstance(value, list):
            result[key].extend(value)
        else:
            result[key] = value
    return result


class GatewayOut(BaseModel):
    id: int
    name: str
    description: str
    providermodule: str
    options: dict[str, str]
    headers: dict[str, str]
    secret_options: list[str]
    secret_headers: list[str]


class ProviderParameter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str
    required: bool | None = None
    values: list[str] | None = None
    secret: bool | None = None
    type: str | None = None
    default: str | None = None


class ProviderInfo(BaseModel):
    options_allowed: bool
    headers_allowed: bool
    description: str
    parameters: dict[str, ProviderParameter]
