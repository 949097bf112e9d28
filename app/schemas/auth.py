"""Request and response models of /auth."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AuthIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"username": "admin", "password": "s3cret"}]},
    )

    username: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=1024)


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
