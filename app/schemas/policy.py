"""Request and response models of /policy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
)


def as_list(value: object) -> list[str]:
    """privacyIDEA clients send "a, b", ["a", "b"] or {"a": true}; all mean a list."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [str(k) for k, v in value.items() if v not in (False, "0", "false", None)]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


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
    action: str | list[str] | dict[str, bool | str] = Field(
        description="Actions granted: a comma-separated string, a list, or {action: true}"
    )
    adminuser: str | list[str] | None = Field(
        None, description="Admins this policy applies to; empty = every admin"
    )
    realm: str | list[str] | None = Field(
        None, description="Realms whose tokens the policy covers; empty = every realm"
    )
    user: str | list[str] | None = Field(
        None, description="Token users the policy covers; empty = every user"
    )
    active: bool = True
    priority: int = Field(1, ge=1, le=1000)
    description: str | None = Field(None, max_length=2000)

    @field_validator("action")
    @classmethod
    def _known_actions(
        cls, value: str | list[str] | dict[str, bool | str]
    ) -> str | list[str] | dict[str, bool | str]:
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


PolicyName = Field(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.\-]+$")
