"""Which process may talk to a GSM modem: exactly one in the cluster.

A process that can open a modem's device tries to take its lock (a PostgreSQL session
advisory lock, or an flock on SQLite); the winner raises the modem's epoch in the
`modem_owner` row and claims that modem's messages only while the row still names it
with that epoch (a fencing token: a process that lost its lock, and so its row, claims
nothing more). Everyone else leaves those messages to the owner. A modem whose owner
stopped renewing for OWNER_STALE seconds has none: its messages fail over.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import time
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sqlalchemy import insert, make_url, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from app import stopping
from app.db.engine import Database
from app.db.tables import Gateway, GatewayOption, ModemOwner, table, utcnow
from app.delivery.locks import AdvisoryLocks, DeviceLocks, FileLocks
from app.delivery.outbox_repo import Fence, aware
from app.services.provider_pool import GatewayConfig
from providers.base import SendError, Unreachable

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger("smsgw.delivery.ownership")
MODEM_MODULE = "providers.gsm_modem.GsmModemProvider"
RENEW_SECONDS = 4.0  # an owner renews, and others try to take over, this often
OWNER_STALE = 15.0  # an owner not renewed for this long is gone
OWNER = table(ModemOwner)
OC = OWNER.c
Verdict = Literal["any", "mine", "elsewhere", "nobody"]


def _modems(tx: Session) -> dict[str, str]:
    """Gateway name -> serial device, for every GSM modem gateway."""
    gateway, option = table(Gateway), table(GatewayOption)
    rows = tx.connection().execute(
        select(gateway.c.name, option.c.value)
        .join_from(gateway, option, option.c.gateway_id == gateway.c.id)
        .where(gateway.c.module == MODEM_MODULE, option.c.kind == "option", option.c.key == "PORT")
    )
    return {str(name): str(port) for name, port in rows}


def _device(port: str) -> str:
    return port if "://" in port else os.path.realpath(port)


def _take(tx: Session, *, device: str, owner: str, now: datetime) -> int:
    """Raise the device's epoch and name this process its owner; the new epoch."""
    raised = (
        tx.connection()
        .execute(
            update(OWNER)
            .where(OC.device == device)
            .values(epoch=OC.epoch + 1, owner=owner, renewed_at=now)
            .returning(OC.epoch)
        )
        .scalar()
    )
    if raised is not None:
        return int(raised)
    tx.connection().execute(
        insert(OWNER).values(device=device, epoch=1, owner=owner, renewed_at=now)
    )
    return 1


def _renew(tx: Session, *, device: str, owner: str, epoch: int, now: datetime) -> bool:
    return bool(
        tx.connection()
        .execute(
            update(OWNER)
            .where(OC.device == device, OC.owner == owner, OC.epoch == epoch)
            .values(renewed_at=now)
        )
        .rowcount
    )


def _owners(tx: Session) -> dict[str, tuple[str, datetime]]:
    return {
        str(d): (str(o), aware(r))
        for d, o, r in tx.connection().execute(select(OC.device, OC.owner, OC.renewed_at))
    }


class Ownership:
    def __init__(self, rt: Runtime, locks: DeviceLocks) -> None:
        self.rt = rt
        self.locks = locks
        self.name = rt.delivery.name
        self._modems: dict[str, str] = {}  # gateway name -> device
        self._owned: dict[str, int] = {}  # device -> epoch
        self._owners: dict[str, tuple[str, datetime]] = {}
        self._task: asyncio.Task[None] | None = None
        self._refreshed = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        await stopping.stop(self._task)
        await self.locks.close()
        self._owned.clear()

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except (OperationalError, DBAPIError, OSError, ConnectionError) as exc:
                log.warning("modem ownership not renewed: %s", type(exc).__name__)
                self._owned.clear()  # without renewal the fence would stop us anyway
            await asyncio.sleep(RENEW_SECONDS)

    async def refresh(self) -> None:
        """Renew what this process owns, take over modems without an owner, re-read owners."""
        db = self.rt.db
        self._modems = {name: _device(port) for name, port in (await db.read(_modems)).items()}
        if not self.locks.alive():
            self._owned.clear()  # the lock connection dropped: PostgreSQL released them all
        now = utcnow()
        for device, epoch in list(self._owned.items()):
            renew = partial(_renew, device=device, owner=self.name, epoch=epoch, now=now)
            if not await db.write(renew):
                log.warning("lost modem %s to another process", device)
                del self._owned[device]
                await self.locks.release(device)
        for device in sorted(set(self._modems.values()) - set(self._owned)):
            if not self._can_open(device) or not await self.locks.try_acquire(device):
                continue
            self._owned[device] = await db.write(
                partial(_take, device=device, owner=self.name, now=now)
            )
            log.info("this process now owns modem %s (epoch %s)", device, self._owned[device])
        self._owners = await db.read(_owners)
        self._refreshed = time.monotonic()

    @staticmethod
    def _can_open(device: str) -> bool:
        return "://" in device or os.access(device, os.R_OK | os.W_OK)

    def _live_owner(self, device: str) -> str | None:
        found = self._owners.get(device)
        if found is None or utcnow() - found[1] > timedelta(seconds=OWNER_STALE):
            return None
        return found[0]

    def verdict(self, gateway: str) -> Verdict:
        device = self._modems.get(gateway)
        if device is None:
            return "any"
        if device in self._owned:
            return "mine"
        owner = self._live_owner(device)
        return "nobody" if owner is None or owner == self.name else "elsewhere"

    def skip_gateways(self) -> list[str]:
        """Modem gateways that have an owner: only the owner claims them, through a fence."""
        return [g for g, d in self._modems.items() if d in self._owned or self._live_owner(d)]

    def fences(self) -> list[Fence]:
        return [
            Fence(
                device,
                tuple(g for g, d in self._modems.items() if d == device),
                self.name,
                epoch,
            )
            for device, epoch in self._owned.items()
        ]

    async def elsewhere(self, config: GatewayConfig) -> bool:
        """Whether another live process owns this modem gateway (re-read if in doubt, at
        most once a second: a takeover may be newer than the last renewal)."""
        if config.module != MODEM_MODULE or self.verdict(config.name) == "mine":
            return False
        if time.monotonic() - self._refreshed > 1.0:
            await self.refresh()
        return self.verdict(config.name) == "elsewhere"

    async def refusal(self, config: GatewayConfig) -> SendError | None:
        """Why this process must not send through `config` now; None if it may."""
        if config.module != MODEM_MODULE:
            return None
        if config.name not in self._modems:
            await self.refresh()  # defined since the last renewal
        verdict = self.verdict(config.name)
        if verdict == "mine":
            return None
        if verdict == "elsewhere":
            return Unreachable(
                "modem_elsewhere", f"modem of {config.name!r} is owned by another process"
            )
        return Unreachable("modem_unowned", f"no process owns the modem of {config.name!r}")


def device_locks(db: Database) -> DeviceLocks:
    """Advisory locks on PostgreSQL; flock beside the database file on SQLite."""
    url = make_url(db.url)
    if db.dialect != "sqlite":
        return AdvisoryLocks(url.set(drivername="postgresql").render_as_string(hide_password=False))
    path = Path(url.database or "") if url.database not in (None, "", ":memory:") else None
    if path is None:
        return FileLocks(Path(tempfile.gettempdir()), f"smsgw-{os.getpid()}")
    return FileLocks(path.parent, path.name)
