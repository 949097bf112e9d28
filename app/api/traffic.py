"""/traffic: pumping defences for challenges and per-gateway limits (smsgw's own paths).

Actions: `traffic_read` / `traffic_write` for rules, Geo permissions, the safe list,
settings, counters and blocks; `gatewaylimit_read` / `gatewaylimit_write` for the limits
of a gateway, kept apart from privacyIDEA's /smsgateway options.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from app.api.deps import Rt, allow
from app.api.envelope import ERRORS, ok
from app.schemas.envelope import Envelope, NoDetail
from app.security.caller import Caller
from app.traffic import admin
from app.traffic.admin import CounterOut, PresetIn
from app.traffic.gateway_limits import LimitsIn, LimitsOut
from app.traffic.settings import (
    RULE_NAME,
    SAFE_PATTERN,
    CountryCode,
    CountryIn,
    RuleIn,
    RuleOut,
    SafeIn,
    TrafficSettingsIn,
)

router = APIRouter(prefix="/traffic", tags=["traffic"])
Reader = Annotated[Caller, Depends(allow("traffic_read"))]
Writer = Annotated[Caller, Depends(allow("traffic_write"))]
LimitReader = Annotated[Caller, Depends(allow("gatewaylimit_read"))]
LimitWriter = Annotated[Caller, Depends(allow("gatewaylimit_write"))]
Name = Annotated[str, Path(pattern=RULE_NAME)]
GatewayName = Annotated[str, Path(min_length=1, max_length=255)]
Subject = Annotated[str, Path(min_length=1, max_length=255)]


class TrafficRulesAnswer(Envelope[list[RuleOut], NoDetail]):
    """result.value lists every rule: the built-in ones (as set) and the added ones."""


class TrafficNameAnswer(Envelope[str, NoDetail]):
    """result.value names what was written."""


class TrafficCountAnswer(Envelope[int, NoDetail]):
    """result.value is how many rows changed."""


class TrafficCountriesAnswer(Envelope[list[CountryIn], NoDetail]):
    """result.value lists the Geo permissions that were set."""


class TrafficSafeAnswer(Envelope[list[SafeIn], NoDetail]):
    """result.value lists the safe numbers and prefixes."""


class TrafficSettingsAnswer(Envelope[TrafficSettingsIn, NoDetail]):
    """result.value is the settings in force."""


class TrafficCountersAnswer(Envelope[list[CounterOut], NoDetail]):
    """result.value lists the counters whose window is open."""


class GatewayLimitsAnswer(Envelope[LimitsOut, NoDetail]):
    """result.value is the gateway's limits."""


class GatewayLimitsListAnswer(Envelope[list[LimitsOut], NoDetail]):
    """result.value lists every gateway's limits."""


@router.get("/rules", operation_id="list_traffic_rules", summary="List the counting rules",
            response_model=TrafficRulesAnswer, responses=ERRORS)  # fmt: skip
async def list_rules(rt: Rt, _: Reader) -> Envelope[list[RuleOut], NoDetail]:
    return ok(await admin.rules(rt))


@router.post("/rules", operation_id="set_traffic_rule",
             summary="Create or update a counting rule (by name)",
             response_model=TrafficNameAnswer, responses=ERRORS)  # fmt: skip
async def set_rule(body: RuleIn, rt: Rt, caller: Writer) -> Envelope[str, NoDetail]:
    return ok(await admin.save_rule(rt, body, caller))


@router.delete("/rules/{name}", operation_id="delete_traffic_rule",
               summary="Delete a rule; a built-in one returns to its default",
               response_model=TrafficCountAnswer, responses=ERRORS)  # fmt: skip
async def delete_rule(name: Name, rt: Rt, caller: Writer) -> Envelope[int, NoDetail]:
    return ok(await admin.delete_rule(rt, name, caller))


@router.get("/countries", operation_id="list_geo_permissions", summary="List Geo permissions",
            response_model=TrafficCountriesAnswer, responses=ERRORS)  # fmt: skip
async def list_countries(rt: Rt, _: Reader) -> Envelope[list[CountryIn], NoDetail]:
    return ok(await admin.countries(rt))


@router.post("/countries", operation_id="set_geo_permission",
             summary="Allow, deny or monitor one country, with an optional hourly cap",
             response_model=TrafficNameAnswer, responses=ERRORS)  # fmt: skip
async def set_country(body: CountryIn, rt: Rt, caller: Writer) -> Envelope[str, NoDetail]:
    return ok(await admin.save_country(rt, body, caller))


@router.post("/presets/high_risk", operation_id="apply_geo_preset",
             summary="Mark the usual high-risk countries (monitor by default)",
             response_model=TrafficCountAnswer, responses=ERRORS)  # fmt: skip
async def apply_preset(body: PresetIn, rt: Rt, caller: Writer) -> Envelope[int, NoDetail]:
    return ok(await admin.apply_preset(rt, body, caller))


@router.delete("/countries/{code}", operation_id="delete_geo_permission",
               summary="Drop a country's permission (unlisted countries' permission applies)",
               response_model=TrafficCountAnswer, responses=ERRORS)  # fmt: skip
async def delete_country(
    code: Annotated[CountryCode, Path()], rt: Rt, caller: Writer
) -> Envelope[int, NoDetail]:
    return ok(await admin.delete_country(rt, code, caller))


@router.get("/safelist", operation_id="list_safe_numbers", summary="List the safe list",
            response_model=TrafficSafeAnswer, responses=ERRORS)  # fmt: skip
async def list_safe(rt: Rt, _: Reader) -> Envelope[list[SafeIn], NoDetail]:
    return ok(await admin.safe_list(rt))


@router.post("/safelist", operation_id="add_safe_number",
             summary="Add a number or prefix that no rule blocks",
             response_model=TrafficNameAnswer, responses=ERRORS)  # fmt: skip
async def add_safe(body: SafeIn, rt: Rt, caller: Writer) -> Envelope[str, NoDetail]:
    return ok(await admin.save_safe(rt, body, caller))


@router.delete("/safelist/{entry}", operation_id="delete_safe_number",
               summary="Remove a number or prefix from the safe list",
               response_model=TrafficCountAnswer, responses=ERRORS)  # fmt: skip
async def delete_safe(
    entry: Annotated[str, Path(pattern=SAFE_PATTERN)], rt: Rt, caller: Writer
) -> Envelope[int, NoDetail]:
    return ok(await admin.delete_safe(rt, entry, caller))


@router.get("/settings", operation_id="get_traffic_settings",
            summary="Number types, resend cooldown, conversion guard, /sms/send coverage",
            response_model=TrafficSettingsAnswer, responses=ERRORS)  # fmt: skip
async def get_settings(rt: Rt, _: Reader) -> Envelope[TrafficSettingsIn, NoDetail]:
    return ok(await admin.settings(rt))


@router.post("/settings", operation_id="set_traffic_settings",
             summary="Replace the settings (a field left out takes its default)",
             response_model=TrafficSettingsAnswer, responses=ERRORS)  # fmt: skip
async def set_settings(
    body: TrafficSettingsIn, rt: Rt, caller: Writer
) -> Envelope[TrafficSettingsIn, NoDetail]:
    return ok(await admin.save_settings(rt, body, caller))


@router.get("/counters", operation_id="list_traffic_counters",
            summary="Counters whose window is open", response_model=TrafficCountersAnswer,
            responses=ERRORS)  # fmt: skip
async def list_counters(
    rt: Rt,
    _: Reader,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    subject: Annotated[str | None, Query(max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Envelope[list[CounterOut], NoDetail]:
    return ok(await admin.counters(rt, rule, subject, limit))


@router.get("/blocks", operation_id="list_traffic_blocks",
            summary="Active blocks of the conversion guard", response_model=TrafficCountersAnswer,
            responses=ERRORS)  # fmt: skip
async def list_blocks(rt: Rt, _: Reader) -> Envelope[list[CounterOut], NoDetail]:
    return ok(await admin.blocks(rt))


@router.delete("/blocks/{rule}/{subject}", operation_id="lift_traffic_block",
               summary="Lift a block (its doubling starts over)", response_model=TrafficCountAnswer,
               responses=ERRORS)  # fmt: skip
async def lift_block(
    rule: Name, subject: Subject, rt: Rt, caller: Writer
) -> Envelope[int, NoDetail]:
    return ok(await admin.lift(rt, rule, subject, caller))


@router.get("/gateways", operation_id="list_gateway_limits",
            summary="Every gateway's limits, or one gateway's",
            response_model=GatewayLimitsListAnswer, responses=ERRORS)  # fmt: skip
async def list_gateway_limits(
    rt: Rt,
    _: LimitReader,
    gateway: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
) -> Envelope[list[LimitsOut], NoDetail]:
    return ok(await admin.gateway_limits_list(rt, gateway))


@router.post("/gateways/{name}", operation_id="set_gateway_limits",
             summary="Set a gateway's rate, burst, concurrency and daily cap",
             response_model=GatewayLimitsAnswer, responses=ERRORS)  # fmt: skip
async def set_gateway_limits(
    name: GatewayName, body: LimitsIn, rt: Rt, caller: LimitWriter
) -> Envelope[LimitsOut, NoDetail]:
    return ok(await admin.save_gateway_limits(rt, name, body, caller))


@router.delete("/gateways/{name}", operation_id="reset_gateway_limits",
               summary="Back to the defaults: unlimited, a modem one at a time",
               response_model=TrafficCountAnswer, responses=ERRORS)  # fmt: skip
async def reset_gateway_limits(
    name: GatewayName, rt: Rt, caller: LimitWriter
) -> Envelope[int, NoDetail]:
    return ok(await admin.reset_gateway_limits(rt, name, caller))
