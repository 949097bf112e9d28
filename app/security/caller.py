"""Who is behind a request: the authenticated admin, or the anonymous client."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Caller:
    name: str
    ip: str = ""
    role: str = "admin"  # or "apikey"
    # An API key may do only these actions (admin policies apply on top); None: an admin.
    actions: frozenset[str] | None = None
