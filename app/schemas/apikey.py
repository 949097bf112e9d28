"""Request and response models of /apikey."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from app.schemas.policy import ADMIN_ACTIONS, as_list

API_KEY_NAME = r"^[A-Za-z0-9_.\-]{1,64}$"
_ACTION = "(" + "|".join(ADMIN_ACTIONS) + ")"
# What the validator below accepts, so the OpenAPI document promises no more: at least one
# known action, as a list or a comma-separated string.
_ACTIONS_SCHEMA: dict[str, Any] = {
    "description": "What the key may do: a list or a comma-separated string of admin actions",
    "anyOf": [
        {"type": "string", "pattern": rf"^(\s*,)*\s*{_ACTION}\s*(,\s*({_ACTION})?\s*)*$"},
        {"type": "array", "minItems": 1, "items": {"enum": list(ADMIN_ACTIONS)}},
    ],
}


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "privacyidea", "actions": ["sms_send"]}]},
    )

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=API_KEY_NAME,
        description="Letters, digits, '_', '.', '-'; the user name for HTTP Basic",
    )
    actions: Annotated[list[str] | str, WithJsonSchema(_ACTIONS_SCHEMA)]

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, value: list[str] | str) -> list[str]:
        return checked_actions(as_list(value))


def checked_actions(actions: list[str]) -> list[str]:
    """The actions, de-duplicated in order; ValueError names the unknown ones."""
    if not actions:
        raise ValueError("at least one action is required")
    unknown = [a for a in actions if a not in ADMIN_ACTIONS]
    if unknown:
        raise ValueError(
            f"unknown action(s) {', '.join(unknown)[:200]}; known: {', '.join(ADMIN_ACTIONS)}"
        )
    return list(dict.fromkeys(actions))


class ApiKeyCreated(BaseModel):
    name: str
    key: str = Field(description="Shown this once; only a keyed hash of it is stored")
    actions: list[str]
    created_at: datetime


class ApiKeyOut(BaseModel):
    name: str
    actions: list[str]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None = Field(
        description="Updated at most once a minute, so up to a minute behind"
    )
