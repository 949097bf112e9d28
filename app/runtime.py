"""Everything a request needs that lives as long as the process."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.engine import Database
from app.db.tables import Policy
from app.delivery.node import Node
from app.security.secret_box import SecretBox
from app.security.tokens import TokenIssuer
from app.services.batch_writer import BatchWriter
from app.services.cache import TtlCache
from app.services.provider_pool import GatewayConfig, ProviderPool
from app.settings import Settings
from app.traffic.state import Traffic
from providers.base import ProviderContext


@dataclass
class Runtime:
    settings: Settings
    db: Database
    box: SecretBox
    issuer: TokenIssuer
    provider_context: ProviderContext
    pool: ProviderPool
    journal: BatchWriter  # the message log and the audit trail
    # Read on every request; see TtlCache for how stale they may be.
    gateway_cache: TtlCache[str, GatewayConfig]
    policy_cache: TtlCache[str, list[Policy]]
    config_cache: TtlCache[str, dict[str, str]]
    traffic: Traffic  # limits and pumping defences
    admin_cache: TtlCache[str, int | None]  # admin name -> token generation (None: deleted)
    apikey_pepper: bytes  # the key of the HMAC under which API keys are stored
    delivery: Node  # this process in the delivery cluster
