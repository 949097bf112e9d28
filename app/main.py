"""create_app(): routers, exception handlers, lifespan."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import FastAPI

from app import __version__, stopping
from app.api import (
    admin,
    apikey,
    audit,
    auth,
    dlr,
    health,
    observability,
    policy,
    sms,
    smsgateway,
    system,
    token,
    traffic,
    validate,
)
from app.api.body import BodyMiddleware
from app.api.docs import install_docs
from app.api.envelope import install_handlers
from app.db.engine import connect
from app.delivery import listeners, receipts
from app.delivery.group import GroupCommit
from app.delivery.node import Node
from app.delivery.ownership import Ownership, device_locks
from app.delivery.sender import Sender
from app.migrations import upgrade
from app.observability import metrics
from app.observability.middleware import RequestObserver
from app.openapi import install_openapi
from app.runtime import Runtime
from app.security import keys, passwords
from app.security.secret_box import SecretBox
from app.security.tokens import TokenIssuer
from app.services import admins, retention
from app.services.batch_writer import BatchWriter
from app.services.cache import TtlCache
from app.services.provider_pool import ProviderPool
from app.settings import Settings, get_settings
from app.traffic.state import Traffic
from providers.base import ProviderContext

log = logging.getLogger("smsgw")

TAGS = [
    {"name": "auth", "description": "Admin login (privacyIDEA's /auth and OAuth2 for Swagger UI)"},
    {"name": "smsgateway", "description": "SMS gateway definitions, privacyIDEA-compatible"},
    {"name": "sms", "description": "Send an SMS through a gateway; the message log"},
    {"name": "token", "description": "SMS OTP tokens, privacyIDEA-compatible"},
    {"name": "validate", "description": "Logins: PIN, then the OTP from the SMS"},
    {"name": "system", "description": "sms.* configuration"},
    {"name": "policy", "description": "Admin policies"},
    {"name": "audit", "description": "The audit trail"},
    {"name": "traffic", "description": "Pumping defences and per-gateway limits"},
    {"name": "apikey", "description": "API keys for services (long-lived, revocable)"},
    {"name": "admin", "description": "Admin accounts"},
    {"name": "health", "description": "Liveness, readiness, gateway health, metrics"},
]


async def prepare(settings: Settings) -> Runtime:
    """Keys, the newest schema and a first admin: what serving needs, made if missing."""
    runtime = build_runtime(settings)
    await upgrade(runtime.db.url)
    name, password = await admins.bootstrap(runtime)
    if password:
        # Printed once, never logged: the operator copies it from the console.
        print(f"smsgw: created admin {name!r} with password: {password}", flush=True)
    return runtime


def start_sender(runtime: Runtime) -> None:
    runtime.delivery.ownership = Ownership(runtime, device_locks(runtime.db))
    runtime.delivery.ownership.start()
    runtime.delivery.sender = Sender(runtime)
    runtime.delivery.sender.start()


async def close(runtime: Runtime) -> None:
    if runtime.delivery.sender is not None:
        await runtime.delivery.sender.stop()
    if runtime.delivery.ownership is not None:
        await runtime.delivery.ownership.stop()
    await runtime.delivery.group.aclose()
    await runtime.journal.aclose()
    await runtime.pool.aclose()
    await runtime.db.dispose()


def _count_unreadable(gateway: str, _reason: str) -> None:
    # Provider.reject_report logs the reason, which quotes what the gateway sent: the metric
    # gets one fixed label, so a gateway cannot grow its label set.
    metrics.dlr_rejected(gateway, "unreadable")


def _with_receipts(runtime: Runtime) -> Runtime:
    """Providers hand their delivery reports to the service through the context."""
    context = replace(
        runtime.provider_context,
        receipts=receipts.sink(runtime),
        receipt_rejected=_count_unreadable,
    )
    runtime.provider_context = runtime.pool.context = context
    return runtime


def build_runtime(settings: Settings) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = settings.encryption_key.get_secret_value() if settings.encryption_key else None
    signing = settings.jwt_key.get_secret_value() if settings.jwt_key else None
    pepper = settings.apikey_hash_key.get_secret_value() if settings.apikey_hash_key else None
    keys.private_sqlite(settings.effective_database_url)
    context = ProviderContext(script_dir=settings.effective_script_dir.resolve())
    passwords.use_threads(settings.hash_threads or len(os.sched_getaffinity(0)))
    passwords.limit_queue(settings.hash_queue_pin, settings.hash_queue_admin)
    db = connect(settings.effective_database_url)
    runtime = Runtime(
        settings=settings,
        db=db,
        box=SecretBox(keys.encryption_keys(settings.data_dir, secret)),
        issuer=TokenIssuer(
            keys.jwt_keys(settings.data_dir, signing), settings.jwt_lifetime_seconds
        ),
        provider_context=context,
        pool=ProviderPool(context),
        journal=BatchWriter(db),
        gateway_cache=TtlCache(settings.cache_seconds),
        policy_cache=TtlCache(settings.cache_seconds),
        config_cache=TtlCache(settings.cache_seconds),
        traffic=Traffic(db, settings.cache_seconds),
        admin_cache=TtlCache(settings.cache_seconds),
        apikey_pepper=keys.apikey_pepper(settings.data_dir, pepper),
        delivery=Node(
            group=GroupCommit(db),
            lease_seconds=settings.delivery_lease_seconds,
            concurrency=settings.delivery_concurrency,
            poll_seconds=settings.delivery_poll_seconds,
        ),
    )
    return _with_receipts(runtime)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await prepare(settings)
        app.state.runtime = runtime
        purger = asyncio.create_task(retention.keep_purging(runtime), name="smsgw-purge")
        listening = asyncio.create_task(listeners.keep_listening(runtime), name="smsgw-listen")
        if settings.delivery_sender:
            start_sender(runtime)
        try:
            yield
        finally:
            for task in (purger, listening):
                await stopping.stop(task)
            await close(runtime)

    app = FastAPI(
        title="smsgw",
        version=__version__,
        summary="Async SMS gateway service with a privacyIDEA-compatible API",
        description="Every answer is privacyIDEA's envelope: `result.status`, `result.value` "
        "and, for errors, `result.error` with a code. Log in with **Authorize** "
        "(OAuth2 password flow) or POST /auth and send the token in `Authorization`.",
        openapi_tags=TAGS,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # Metrics are Prometheus (app/observability); FastAPI's own OpenTelemetry hook would
        # otherwise look the global providers up in the environment on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_handlers(app)
    install_docs(app)
    install_openapi(app)
    app.add_middleware(
        BodyMiddleware,
        max_bytes=settings.max_body_bytes,
        form_only_paths=frozenset({"/auth/token"}),
    )
    # Outermost: a request refused by the body checks still gets an id, a log line, a count.
    app.add_middleware(RequestObserver)
    # /validate first: every login is matched against the routes in this order.
    for module in (
        validate, auth, smsgateway, sms, token, system, policy, audit, apikey, admin, health
    ):  # fmt: skip
        app.include_router(module.router)
    app.include_router(observability.router)
    app.include_router(traffic.router)
    app.include_router(dlr.router)
    return app
