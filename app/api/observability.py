"""GET /metrics, GET /readyz and GET /sms/gateways/health."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.deps import Rt, allow, client_ip
from app.api.envelope import ERRORS, error_doc, ok
from app.db.tables import utcnow
from app.observability.scrape import DatabaseGauges, exposition
from app.schemas.envelope import Envelope, NoDetail
from app.schemas.health import GatewayHealthOut, Ready
from app.security.caller import Caller
from app.services import gateway_health

router = APIRouter(tags=["health"])
_metrics_read = allow("metrics_read")


class GatewayHealthAnswer(Envelope[list[GatewayHealthOut], NoDetail]):
    """result.value is one entry per gateway, in name order."""


async def metrics_reader(request: Request) -> None:
    """Addresses on the allow-list scrape freely; anyone else needs `metrics_read`."""
    if _allowed(request.app.state.runtime.settings.metrics_networks, client_ip(request)):
        return
    await _metrics_read(request)


def _allowed(networks: list[str], address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(n, strict=False) for n in networks)


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_reader)])
async def metrics(rt: Rt) -> Response:
    waiting, circuits = await gateway_health.scrape(rt)
    body = exposition([DatabaseGauges(waiting, circuits, utcnow())])
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/readyz",
    operation_id="readiness",
    summary="Readiness: whether the database answers",
    response_model=Ready,
    responses={503: error_doc(503, 503, "The database does not answer", "...")},
)
async def readiness(rt: Rt) -> Ready:
    return Ready(status="ready", database=await gateway_health.database_ready(rt))


@router.get(
    "/sms/gateways/health",
    operation_id="gateway_health",
    summary="Per gateway: success ratio, p95 latency, last error, circuit state",
    response_model=GatewayHealthAnswer,
    responses=ERRORS,
)
async def gateways_health(
    rt: Rt, _: Annotated[Caller, Depends(allow("gatewayhealth_read"))]
) -> Envelope[list[GatewayHealthOut], NoDetail]:
    return ok(await gateway_health.report(rt))
