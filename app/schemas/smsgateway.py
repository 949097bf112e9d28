"""Request and response models of /smsgateway."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

OptionValue = str | int | float | bool
_SECTIONS = {"option.": "options", "header.": "headers"}
_SECRET_SECTIONS = {"secret.option.": "secret_options", "secret.header.": "secret_headers"}
_TRUE = {"1", "true", "yes", "on"}


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in _TRUE


class GatewayIn(BaseModel):
    """A gateway definition. privacyIDEA's flattened keys (`option.URL`, `header.X`,
    `secret.option.K=1`) and the nested objects below are both accepted."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
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
            ]
        },
    )

    name: str = Field(min_length=1, max_length=255, pattern=r"^[^/\x00-\x1f]+$")
    module: str = Field(min_length=1, max_length=255, description="A provider from /providers")
    description: str = Field("", max_length=2000)
    id: int | None = Field(None, description="Ignored; gateways are keyed by name")
    options: dict[str, OptionValue] = Field(default_factory=dict)
    headers: dict[str, OptionValue] = Field(default_factory=dict)
    secret_options: list[str] = Field(
        default_factory=list, description="Option keys to encrypt (beside the automatic ones)"
    )
    secret_headers: list[str] = Field(default_factory=list)
    plain_options: list[str] = Field(
        default_factory=list,
        description="Keys explicitly flagged not secret (secret.option.K=0); "
        "names with PASSWORD or SECRET and provider secrets stay secret regardless",
    )
    plain_headers: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _unflatten(cls, data: Any) -> Any:
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
                flag_key = key[len(secret_section) :]
                target = _SECRET_SECTIONS[secret_section]
                if not _truthy(value):
                    target = target.replace("secret_", "plain_")
                result.setdefault(target, []).append(flag_key)
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

    @model_validator(mode="after")
    def _keys_are_sane(self) -> GatewayIn:
        for section in (self.options, self.headers):
            for key in section:
                if not key or len(key) > 255 or any(ord(c) < 32 for c in key):
                    raise ValueError(f"option or header key {key[:40]!r} is not a valid key")
        return self


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
