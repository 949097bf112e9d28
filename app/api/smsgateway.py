"""/smsgateway: privacyIDEA's SMS gateway definition endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.api.deps import Rt, allow
from app.api.envelope import ERRORS, error_doc, ok
from app.schemas.envelope import Envelope, NoDetail
from app.schemas.smsgateway import GatewayIn, GatewayOut, ProviderInfo
from app.security.caller import Caller
from app.services import gateways

router = APIRouter(prefix="/smsgateway", tags=["smsgateway"])
Reader = Annotated[Caller, Depends(allow("smsgateway_read"))]
Writer = Annotated[Caller, Depends(allow("smsgateway_write"))]
GatewayId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The gateway's numeric id")]
# privacyIDEA reads /smsgateway/<x> as an id for GET and as a name for DELETE; one path
# template with a per-method type says exactly that. OpenAPI gives a path parameter the
# name in the template, so both methods must call it `identifier` (two templates that
# differ only in the parameter name are the same path); the descriptions say which it is.
BY_ID_OR_NAME = (
    "privacyIDEA's contract: `GET /smsgateway/{identifier}` reads a gateway by its numeric "
    "**id**, `DELETE /smsgateway/{identifier}` deletes gateways by **name**. After a DELETE "
    "of a name, a GET of the same URL is therefore a different question (and a 400 unless "
    "the name is numeric)."
)
GatewayIdentifier = Annotated[
    int,
    Path(
        ge=1,
        le=2**31 - 1,
        alias="identifier",
        description="For GET: the gateway's numeric **id** (DELETE takes a name here)",
    ),
]


class GatewayIdAnswer(Envelope[int, NoDetail]):
    """result.value is the gateway's id."""


class GatewayListAnswer(Envelope[list[GatewayOut], NoDetail]):
    """result.value lists gateways; secret values read __CENSORED__."""


class ProvidersAnswer(Envelope[dict[str, ProviderInfo], NoDetail]):
    """result.value maps each provider module to its parameters."""


class CountAnswer(Envelope[int, NoDetail]):
    """result.value is the number of deleted rows."""


SET_GATEWAY_ERRORS = {
    **ERRORS,
    404: error_doc(
        404,
        601,
        "An option names something that is not there (a script not in the script directory)",
        "options of providers.script.ScriptProvider: script: no such script in the script "
        "directory (/var/lib/smsgw/scripts)",
    ),
    409: error_doc(
        409,
        905,
        "__CENSORED__ asks to keep a stored value the gateway does not have, or that cannot "
        "follow it to a new destination (URL, host, port, proxy or module)",
        "ERR905: Invalid parameter: option.PASSWORD: __CENSORED__ given, but there is no "
        "stored value to keep",
    ),
}


@router.post(
    "",
    operation_id="set_gateway",
    summary="Create or update a gateway (by name)",
    description="The body is the one of the provider `module` names (privacyIDEA's class "
    "paths name the same body): exactly the options its options model takes, as text (or a "
    "JSON integer read as its digits), checked before anything is stored. privacyIDEA's "
    "flattened keys (`option.URL`, `header.X-Key`, `secret.option.KEY=1`) are accepted beside "
    "the nested objects, as JSON or form data; the required options go in `options` when it "
    "is given, else as `option.KEY`. `__CENSORED__` keeps a stored value. A REGEXP option's "
    "format `regexp-substitution` is `/pattern/replacement/` whose pattern compiles as a "
    "Python regular expression. Format `message-id-field` is a JSON path (`data.id`) or "
    "`/regex/` with exactly one group; format `status-map` is `status=state,...` or a JSON "
    "object, each state one of accepted, enroute, delivered, undeliverable, unknown.",
    response_model=GatewayIdAnswer,
    responses=SET_GATEWAY_ERRORS,
)
@router.post("/", include_in_schema=False)
async def set_gateway(body: GatewayIn, rt: Rt, caller: Writer) -> Envelope[int, NoDetail]:
    return ok(await gateways.save(rt, body, caller))


@router.get(
    "",
    operation_id="list_gateways",
    summary="List all gateways",
    response_model=GatewayListAnswer,
    responses=ERRORS,
)
@router.get("/", include_in_schema=False)
async def list_gateways(rt: Rt, _: Reader) -> Envelope[list[GatewayOut], NoDetail]:
    return ok(await gateways.listing(rt))


@router.get(
    "/providers",
    operation_id="list_providers",
    summary="The providers and their parameters",
    response_model=ProvidersAnswer,
    response_model_exclude_none=True,
    responses=ERRORS,
)
async def list_providers(_: Reader) -> Envelope[dict[str, ProviderInfo], NoDetail]:
    return ok(gateways.providers())


@router.get(
    "/{identifier}",
    operation_id="get_gateway",
    summary="One gateway by id, as a one-element list ([] if the id is unknown)",
    description=BY_ID_OR_NAME,
    response_model=GatewayListAnswer,
    responses=ERRORS,
)
async def get_gateway(
    gwid: GatewayIdentifier, rt: Rt, _: Reader
) -> Envelope[list[GatewayOut], NoDetail]:
    return ok(await gateways.listing(rt, gwid))


@router.delete(
    "/option/{gwid}/{key}",
    operation_id="delete_gateway_option",
    summary="Delete one option (or `header.<K>` header) of a gateway",
    response_model=CountAnswer,
    responses=ERRORS,
)
async def delete_gateway_option(
    gwid: GatewayId,
    key: Annotated[str, Path(min_length=1, max_length=270)],
    rt: Rt,
    caller: Writer,
) -> Envelope[int, NoDetail]:
    return ok(await gateways.delete_option(rt, gwid, key, caller))


@router.delete(
    "/{identifier}",
    operation_id="delete_gateway",
    summary="Delete a gateway by name; the value is the number deleted (0 if none)",
    description=BY_ID_OR_NAME,
    response_model=CountAnswer,
    responses=ERRORS,
)
async def delete_gateway(
    name: Annotated[
        str,
        Path(
            min_length=1,
            max_length=255,
            alias="identifier",
            description="For DELETE: the gateway's **name** (GET takes a numeric id here)",
        ),
    ],
    rt: Rt,
    caller: Writer,
) -> Envelope[int, NoDetail]:
    return ok(await gateways.delete(rt, name, caller))
