"""Everything a request needs that lives as long as the process."""

from __future__ import annotations

from dataclasses import dataclass

from app.db.engine import Database
from app.security.secret_box import SecretBox
from app.security.tokens import TokenIssuer
from app.services.provider_pool import ProviderPool
from app.settings import Settings
from providers.base import ProviderContext


@dataclass
class Runtime:
    settings: Settings
    db: Database
    box: SecretBox
    issuer: TokenIssuer
    provider_context: ProviderContext
    pool: ProviderPool
