"""Request and response models of /policy."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from app.schemas.types import MAX_NAME, WholeNumber

ADMIN_ACTIONS = (
    "smsgateway_read",
    "smsgateway_write",
    "enrollSMS",
    "delete",
    "enable",
    "disable",
    "resetfailcount",
    "setpin",
    "tokenlist",
    "triggerchallenge",
    "policyread",
    "policywrite",
    "system_write",
    "system_read",
    "sms_send",
    "messagelist",
    "auditlog",
    "traffic_read",
    "traffic_write",
    "gatewaylimit_read",
    "gatewaylimit_write",
    "apikey_read",
    "apikey_write",
    "admin_write",
    "metrics_read",
    "gatewayhealth_read",
    "dlrtoken_write",
)


def as_list(value: object) -> list[str]:
    """privacyIDEA clients send "a, b", ["a", "b"] or {"a": true}; all mean a list."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [str(k) for k, v in value.items() if v not in (False, "0", "false")]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


_ACTION = "(" + "|".join(ADMIN_ACTIONS) + r")(=[^,]*)?"
# A comma-separated list with at least one known action (privacyIDEA's `a, b=1` form).
_ACTION_LIST = rf"^(\s*,)*\s*{_ACTION}\s*(,\s*({_ACTION})?\s*)*$"
_FALSY: list[Any] = [False, "0", "false"]
ACTION_SCHEMA: dict[str, Any] = {
    "description": "Actions granted: a comma-separated string, a list, or {action: true}",
    "anyOf": [
        {"type": "string", "maxLength": 4000, "pattern": _ACTION_LIST},
        {
            "type": "array",
            "minItems": 1,
            "maxItems": 100,
            "items": {"enum": list(ADMIN_ACTIONS)},
        },
        {
            "type": "object",
            "propertyNames": {"enum": list(ADMIN_ACTIONS)},
            "additionalProperties": {
                "anyOf": [{"type": "boolean"}, {"type": "string", "maxLength": MAX_NAME}]
            },
            # At least one action set to something other than false.
            "not": {"additionalProperties": {"enum": _FALSY}},
        },
    ],
}


NameList = (
    Annotated[str, Field(max_length=4000)] | list[Annotated[str, Field(max_length=MAX_NAME)]] | None
)


class PolicyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"scope": "admin", "action": "smsgateway_read, sms_send", "adminuser": "ops"}
            ]
        },
    )

    scope: Literal["admin"] = Field(description="Only admin policies are enforced by smsgw")
    action: Annotated[str | list[str] | dict[str, bool | str], WithJsonSchema(ACTION_SCHEMA)]
    adminuser: NameList = Field(
        None, description="Admins this policy applies to (a list, or comma-separated); none = all"
    )
    realm: NameList = Field(
        None, description="Realms whose tokens the policy covers; none = every realm"
    )
    user: NameList = Field(None, description="Token users the policy covers; none = every user")
    active: bool = Field(True, strict=True)
    priority: Annotated[int, Field(ge=1, le=1000), WholeNumber] = 1
    description: str | None = Field(
        None, max_length=2000, description="What the policy is for; stored and read back"
    )

    @field_validator("action")
    @classmethod
    def _known_actions(
        cls, value: str | list[str] | dict[str, bool | str]
    ) -> str | list[str] | dict[str, bool | str]:
        # Exactly what ACTION_SCHEMA says; the text form is checked by the words below.
        if isinstance(value, str) and len(value) > 4000:
            raise ValueError("at most 4000 characters")
        if isinstance(value, list) and (len(value) > 100 or not set(value) <= set(ADMIN_ACTIONS)):
            unknown = [str(a)[:40] for a in value if a not in ADMIN_ACTIONS]
            raise ValueError(f"at most 100 known actions; unknown: {', '.join(unknown)}")
        if isinstance(value, dict):
            unknown = [str(a)[:40] for a in value if a not in ADMIN_ACTIONS]
            if unknown:
                raise ValueError(f"unknown action(s) {', '.join(unknown)}")
            if any(isinstance(v, str) and len(v) > MAX_NAME for v in value.values()):
                raise ValueError(f"a value is longer than {MAX_NAME} characters")
        actions = as_list(value)
        if not actions:
            raise ValueError("at least one action is required")
        unknown = [a.split("=")[0] for a in actions if a.split("=")[0] not in ADMIN_ACTIONS]
        if unknown:
            raise ValueError(
                f"unknown action(s) {', '.join(unknown)}; known: {', '.join(ADMIN_ACTIONS)}"
            )
        return value

    def actions(self) -> list[str]:
        return [a.split("=")[0] for a in as_list(self.action)]

    def adminusers(self) -> list[str]:
        return as_list(self.adminuser)

    def realms(self) -> list[str]:
        return as_list(self.realm)

    def users(self) -> list[str]:
        return as_list(self.user)


class PolicyOut(BaseModel):
    name: str
    scope: str
    action: dict[str, bool]
    adminuser: list[str]
    realm: list[str]
    user: list[str]
    active: bool
    priority: int
    description: str = Field("", description="What the policy is for, as its author wrote it")
