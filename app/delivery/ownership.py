"""Which process may talk to a GSM modem: exactly one in the cluster.

A stub until ownership is held in the database: every process may send to every modem
(the per-device asyncio.Lock inside the provider still serialises one process's sends).
"""

from __future__ import annotations

from app.services.provider_pool import GatewayConfig
from providers.base import SendError


class Ownership:
    def refusal(self, config: GatewayConfig) -> SendError | None:
        """Why this process must not send through `config` now; None if it may."""
        return None

    def foreign_gateways(self) -> list[str]:
        """Gateways whose messages another process sends: this one does not claim them."""
        return []
