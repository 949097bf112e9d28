"""/policy: admin policies, privacyIDEA-style."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from app.api.deps import Rt, allow
from app.api.envelope import ERRORS, ok
from app.errors import NotFound
from app.schemas.envelope import Envelope, NoDetail
from app.schemas.policy import PolicyIn, PolicyOut
from app.security.caller import Caller
from app.services import policies

router = APIRouter(prefix="/policy", tags=["policy"])
PolicyName = Annotated[str, Path(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_.\-]+$")]


class PolicySetAnswer(Envelope[dict[str, int], NoDetail]):
    """result.value is {"setPolicy <name>": <id>}, as privacyIDEA answers."""


class PolicyListAnswer(Envelope[list[PolicyOut], NoDetail]):
    """result.value lists the policies."""


class PolicyDeleteAnswer(Envelope[int, NoDetail]):
    """result.value is the id of the deleted policy."""


@router.post(
    "/{name}",
    operation_id="set_policy",
    summary="Create or update a policy",
    response_model=PolicySetAnswer,
    responses=ERRORS,
)
async def set_policy(
    name: PolicyName,
    body: PolicyIn,
    rt: Rt,
    caller: Annotated[Caller, Depends(allow("policywrite"))],
) -> Envelope[dict[str, int], NoDetail]:
    return ok({f"setPolicy {name}": await policies.save(rt, name, body, caller)})


@router.get(
    "/",
    operation_id="list_policies",
    summary="List policies",
    response_model=PolicyListAnswer,
    responses=ERRORS,
)
@router.get("", include_in_schema=False)
async def list_policies(
    rt: Rt, _: Annotated[Caller, Depends(allow("policyread"))]
) -> Envelope[list[PolicyOut], NoDetail]:
    return ok(await policies.listing(rt))


@router.get(
    "/{name}",
    operation_id="get_policy",
    summary="One policy, as a one-element list (404 if there is no such policy)",
    response_model=PolicyListAnswer,
    responses=ERRORS,
)
async def get_policy(
    name: PolicyName, rt: Rt, _: Annotated[Caller, Depends(allow("policyread"))]
) -> Envelope[list[PolicyOut], NoDetail]:
    found = await policies.listing(rt, name)
    if not found:
        # A 404, not privacyIDEA's empty list: a policy that is gone is not there.
        raise NotFound(f"The policy {name!r} does not exist")
    return ok(found)


@router.delete(
    "/{name}",
    operation_id="delete_policy",
    summary="Delete a policy",
    response_model=PolicyDeleteAnswer,
    responses=ERRORS,
)
async def delete_policy(
    name: PolicyName, rt: Rt, caller: Annotated[Caller, Depends(allow("policywrite"))]
) -> Envelope[int, NoDetail]:
    return ok(await policies.delete(rt, name, caller))
