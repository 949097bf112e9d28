"""This process as a member of the delivery cluster: its name, its wake-up, its sender."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.delivery.group import GroupCommit

if TYPE_CHECKING:
    from app.delivery.ownership import Ownership
    from app.delivery.sender import Sender


def node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


@dataclass
class Node:
    group: GroupCommit  # the outbox's writes
    lease_seconds: float
    concurrency: int
    poll_seconds: float
    name: str = field(default_factory=node_name)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sender: Sender | None = None
    ownership: Ownership | None = None
    # Messages this process is driving right now: their leases are renewed. A drive that
    # dies (a lost database, a bug) drops out, so its lease runs out and it is recovered.
    held: set[int] = field(default_factory=set)

    def nudge(self) -> None:
        """Something is due now: the sender claims without waiting for its poll."""
        self.wake.set()

    def nudge_in(self, seconds: float) -> None:
        asyncio.get_running_loop().call_later(seconds, self.wake.set)
