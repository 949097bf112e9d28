"""Provider names -> classes. Only names registered here resolve: nothing is ever
imported from a path a client supplies."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from pydantic import ValidationError
from pydantic.fields import FieldInfo

from providers.base import Provider, ProviderContext, ProviderOptions

P = TypeVar("P", bound=type[Provider[Any]])


class UnknownProvider(LookupError):
    """The module name is neither a registered provider nor one of its aliases."""


class OptionsInvalid(ValueError):
    """Gateway options failed the provider's options model; `errors` is (key, reason)."""

    def __init__(self, errors: list[tuple[str, str]], *, not_found: bool = False) -> None:
        self.errors = errors
        # Every error names something the value refers to that is missing (a script):
        # the value is well formed, the world around it is not.
        self.not_found = not_found
        super().__init__("; ".join(f"{key}: {reason}" for key, reason in errors))


def _values_of(annotation: Any) -> list[str] | None:
    """The allowed values of a Literal (possibly inside Optional)."""
    if typing.get_origin(annotation) is Literal:
        return [str(v) for v in typing.get_args(annotation)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            values = _values_of(arg)
            if values:
                return values
    return None


def is_secret_field(info: FieldInfo) -> bool:
    extra = info.json_schema_extra
    return isinstance(extra, dict) and bool(extra.get("secret"))


def _parameter(info: FieldInfo) -> dict[str, Any]:
    parameter: dict[str, Any] = {"description": info.description or ""}
    if info.is_required():
        parameter["required"] = True
    values = _values_of(info.annotation)
    if values:
        parameter["values"] = values
    if is_secret_field(info):
        parameter["secret"] = True
        parameter["type"] = "password"
    elif not values:
        parameter["type"] = "text"
    default = info.get_default(call_default_factory=True)
    if not info.is_required() and default is not None:
        parameter["default"] = str(default)
    return parameter


class Registry:
    def __init__(self) -> None:
        self._providers: dict[str, type[Provider[Any]]] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[P], P]:
        def decorate(cls: P) -> P:
            self._providers[name] = cls
            self._aliases[name] = name
            for alias in aliases:
                self._aliases[alias] = name
            return cls

        return decorate

    def names(self) -> list[str]:
        return sorted(self._providers)

    def aliases(self) -> dict[str, str]:
        """Every other accepted name (privacyIDEA's class paths) -> its canonical name."""
        return {alias: name for alias, name in sorted(self._aliases.items()) if alias != name}

    def accepted_names(self) -> list[str]:
        """Every name `canonical` resolves: our names and privacyIDEA's class paths."""
        return sorted(self._aliases)

    def canonical(self, name: str) -> str:
        try:
            return self._aliases[name]
        except KeyError:
            raise UnknownProvider(name) from None

    def resolve(self, name: str) -> type[Provider[Any]]:
        return self._providers[self.canonical(name)]

    def secret_keys(self, name: str) -> set[str]:
        model = self.resolve(name).options_model
        return {key for key, info in model.model_fields.items() if is_secret_field(info)}

    def validate(
        self, name: str, raw: Mapping[str, str], context: ProviderContext | None = None
    ) -> ProviderOptions:
        """Check option values against the provider's model; raise naming each bad key."""
        model = self.resolve(name).options_model
        data = {key: value for key, value in raw.items() if value not in (None, "")}
        try:
            return model.model_validate(data, context={"provider": context or ProviderContext()})
        except ValidationError as exc:
            raise OptionsInvalid(
                [
                    (".".join(str(p) for p in err["loc"]) or "options", _reason(err))
                    for err in exc.errors()
                ],
                not_found=all(err["type"] == "not_found" for err in exc.errors()),
            ) from None

    def schema(self) -> dict[str, dict[str, Any]]:
        """privacyIDEA's /smsgateway/providers shape, built from the options models."""
        return {
            name: {
                "options_allowed": cls.options_model.options_allowed,
                "headers_allowed": cls.headers_allowed,
                "description": cls.description,
                "parameters": {
                    key: _parameter(info) for key, info in cls.options_model.model_fields.items()
                },
            }
            for name, cls in sorted(self._providers.items())
        }


def _reason(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown option for this provider"
    if err["type"] == "missing":
        return "required option is missing"
    return str(err["msg"])


registry = Registry()
