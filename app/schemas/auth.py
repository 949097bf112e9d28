"""Request and response models of /auth."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.schemas.types import MAX_NAME


class AuthIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"username": "admin", "password": "s3cret"}]},
    )

    username: str = Field(min_length=1, max_length=MAX_NAME)
    password: str = Field(min_length=1, max_length=1024)


class OAuth2FormIn(BaseModel):
    """The OAuth2 password flow's form (RFC 6749 4.3.2), with the same bounds as /auth."""

    model_config = ConfigDict(extra="ignore")

    grant_type: Literal["password"] = "password"
    username: str = Field(min_length=1, max_length=MAX_NAME)
    password: str = Field(min_length=1, max_length=1024, json_schema_extra={"format": "password"})
    scope: str = Field("", max_length=1024)
    client_id: str = Field("", max_length=MAX_NAME)
    client_secret: str = Field("", max_length=1024, json_schema_extra={"format": "password"})


class AuthValue(BaseModel):
    token: str
    role: str
    username: str
    rights: list[str]


class OAuth2Token(BaseModel):
    """The OAuth2 password-flow answer Swagger UI's Authorize button expects."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
