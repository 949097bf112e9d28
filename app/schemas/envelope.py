"""privacyIDEA's response envelope, as typed models for the OpenAPI document."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from app import __version__

V = TypeVar("V")
D = TypeVar("D")


class NoDetail(BaseModel):
    """Endpoints that have nothing to add beside the value answer an empty detail."""

    model_config = ConfigDict(extra="forbid")


class Result(BaseModel, Generic[V]):
    status: bool = True
    value: V


class Authentication(StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    CHALLENGE = "CHALLENGE"


class AuthResult(Result[V], Generic[V]):
    authentication: Authentication


class EnvelopeBase(BaseModel):
    # Always present in answers, so generated clients should not call them optional.
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    id: int = 1
    jsonrpc: str = "2.0"
    time: float = Field(default_factory=time.time)
    version: str = f"smsgw {__version__}"
    versionnumber: str = __version__


class Envelope(EnvelopeBase, Generic[V, D]):
    """A successful answer: result.value carries the payload."""

    result: Result[V]
    detail: D


class AuthEnvelope(EnvelopeBase, Generic[V, D]):
    """An answer of /auth or /validate: result.authentication says the outcome."""

    result: AuthResult[V]
    detail: D


class ErrorInfo(BaseModel):
    code: int = Field(examples=[905])
    message: str = Field(examples=["ERR905: Missing parameter: name"])


class ErrorResult(BaseModel):
    status: Literal[False] = False
    error: ErrorInfo


class ErrorEnvelope(EnvelopeBase):
    """Every error: result.status is false and result.error says why."""

    result: ErrorResult
    detail: None = None
