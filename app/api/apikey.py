"""/apikey: long-lived, revocable credentials for services (an auth server, a monitor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.api.deps import Rt, allow, allow_any
from app.api.envelope import ERRORS, error_doc, ok
from app.schemas.apikey import API_KEY_NAME, ApiKeyCreated, ApiKeyIn, ApiKeyOut
from app.schemas.envelope import Envelope, NoDetail
from app.security.caller import Caller
from app.services import apikeys

router = APIRouter(prefix="/apikey", tags=["apikey"])
Writer = Annotated[Caller, Depends(allow("apikey_write"))]
Reader = Annotated[Caller, Depends(allow_any("apikey_read", "apikey_write"))]
KeyName = Annotated[str, Path(min_length=1, max_length=64, pattern=API_KEY_NAME)]


class ApiKeyCreatedAnswer(Envelope[ApiKeyCreated, NoDetail]):
    """result.value carries the key itself: it is shown this once."""


class ApiKeyListAnswer(Envelope[list[ApiKeyOut], NoDetail]):
    """result.value lists the keys (never the keys themselves)."""


class ApiKeyDeleteAnswer(Envelope[int, NoDetail]):
    """result.value is the number of keys revoked (1)."""


@router.post(
    "",
    operation_id="create_apikey",
    summary="Create an API key limited to the given actions",
    description="Use the key as `Authorization: Bearer <key>`, bare `Authorization: <key>`, "
    "`PI-Authorization: <key>`, or HTTP Basic with the key's name as user and the key as "
    "password. Admin policies apply to it as to an admin of its name. A `name` that is "
    "taken, by a key or an admin, is a 409.",
    response_model=ApiKeyCreatedAnswer,
    responses={
        **ERRORS,
        409: error_doc(
            409, 905, "The name is taken", "ERR905: Invalid parameter: name: 'pi' already exists"
        ),
    },
)
async def create_apikey(
    body: ApiKeyIn, rt: Rt, caller: Writer
) -> Envelope[ApiKeyCreated, NoDetail]:
    return ok(await apikeys.create(rt, body, caller))


@router.get(
    "/",
    operation_id="list_apikeys",
    summary="List API keys: names, actions, created and last used",
    response_model=ApiKeyListAnswer,
    responses=ERRORS,
)
async def list_apikeys(rt: Rt, _: Reader) -> Envelope[list[ApiKeyOut], NoDetail]:
    return ok(await apikeys.listing(rt))


@router.delete(
    "/{name}",
    operation_id="delete_apikey",
    summary="Revoke an API key, at once on every worker and node",
    response_model=ApiKeyDeleteAnswer,
    responses=ERRORS,
)
async def delete_apikey(name: KeyName, rt: Rt, caller: Writer) -> Envelope[int, NoDetail]:
    return ok(await apikeys.delete(rt, name, caller))
