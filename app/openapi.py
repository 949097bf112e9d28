"""The OpenAPI document, tidied for generated clients."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.deps import SECURITY_SCHEMES
from app.schemas.gateway_wire import WIRE_KEYS, body_schemas
from providers.registry import registry


def install_openapi(app: FastAPI) -> None:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        # Validation errors are answered as 400 envelopes, never FastAPI's 422 (a 422 an
        # operation documents itself, such as a reused Idempotency-Key, stays).
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if "HTTPValidationError" in str(responses.get("422", "")):
                    responses.pop("422")
        _add_security(schema)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        # Each provider's options model, so clients can see what a gateway takes.
        for module in registry.names():
            model = registry.resolve(module).options_model
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for sub_name, sub in model_schema.pop("$defs", {}).items():
                components.setdefault(sub_name, sub)
            for prop in model_schema.get("properties", {}).values():
                for key in WIRE_KEYS:
                    prop.pop(key, None)
            components[model.__name__] = model_schema
        _gateway_body(schema, components)
        app.openapi_schema = schema
        return schema

    app.openapi = build  # type: ignore[method-assign]


def _gateway_body(schema: dict[str, Any], components: dict[str, Any]) -> None:
    """POST /smsgateway takes one of the providers' exact bodies, told apart by `module`
    (privacyIDEA's class paths map to the same body as the canonical names)."""
    mapping: dict[str, str] = {}
    branches = []
    for body in body_schemas().values():
        name = body["title"]
        components[name] = body
        ref = f"#/components/schemas/{name}"
        branches.append({"$ref": ref})
        mapping |= {alias: ref for alias in body["properties"]["module"]["enum"]}
    operation = schema["paths"]["/smsgateway"]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    content["schema"] = {
        "oneOf": branches,
        "discriminator": {"propertyName": "module", "mapping": dict(sorted(mapping.items()))},
    }
    # GatewayIn stays as the shape every body shares (a module named by a pattern, so a
    # client may send it with a plain string); the bodies above are what is checked.
    gateway = components.get("GatewayIn", {}).get("properties", {})
    if "module" in gateway:
        names = registry.accepted_names()
        gateway["module"]["pattern"] = "^(" + "|".join(re.escape(n) for n in names) + ")$"
        gateway["module"]["description"] = "A provider from /providers: " + ", ".join(names)


# Operations anyone may call; every other one needs an admin token.
PUBLIC_OPERATIONS = frozenset({"login", "oauth2_token", "health", "readiness", "validate_check"})


def _add_security(schema: dict[str, Any]) -> None:
    """Admin routes check the token in one flat dependency; say so in the document."""
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    requirement: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if operation.get("operationId") not in PUBLIC_OPERATIONS:
                operation["security"] = requirement
