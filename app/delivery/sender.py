"""The background sender of one process: claims due messages and drives them.

Wake-ups come from this process's own admissions (an in-memory event), from other nodes
(PostgreSQL LISTEN/NOTIFY), and from a poll as the fallback for everything else: other
SQLite workers, a lost notification, a retry whose backoff ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from app import stopping
from app.db.tables import utcnow
from app.delivery import config as delivery_config
from app.delivery import engine, outbox_repo, policy
from app.delivery.outbox_repo import Job
from providers.base import OutcomeUnknown

if TYPE_CHECKING:
    import asyncpg

    from app.runtime import Runtime

log = logging.getLogger("smsgw.delivery.sender")
LEASE_LOST = "no answer recorded: the process sending it stopped (its lease expired)"
_DB_ERRORS = (OperationalError, DBAPIError, OSError, ConnectionError)


class Sender:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.node = rt.delivery
        self._tasks: set[asyncio.Task[engine.Result]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._listener: asyncpg.Connection | None = None
        self._next_recovery = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop_task = loop.create_task(self._run())
        self._heartbeat_task = loop.create_task(self._heartbeat())

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let sends in flight finish (their leases would otherwise expire)."""
        await stopping.stop(self._loop_task)
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            for task in pending:
                task.cancel()
        await stopping.stop(self._heartbeat_task)
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.close()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                if self.rt.db.url.startswith("postgresql") and self._listener is None:
                    await self._listen()
                await self._round()
                failures = 0
            except _DB_ERRORS as exc:
                # The database is briefly away: wait and resume; the rows stay where they are.
                failures += 1
                wait = min(0.5 * 2 ** min(failures, 5), 10.0)
                log.warning("outbox unreachable (%s); retrying in %.1f s", type(exc).__name__, wait)
                await asyncio.sleep(wait)

    async def _heartbeat(self) -> None:
        """Renew this process's leases (its inline sends too) three times per lease."""
        while True:
            await asyncio.sleep(self.node.lease_seconds / 3)
            until = utcnow() + timedelta(seconds=self.node.lease_seconds)
            try:
                renew = partial(
                    outbox_repo.renew_leases,
                    owner=self.node.name,
                    ids=sorted(self.node.held),
                    until=until,
                )
                await self.rt.db.write(renew)
            except _DB_ERRORS as exc:
                log.warning("leases not renewed (%s)", type(exc).__name__)

    async def _round(self) -> None:
        self.node.wake.clear()
        if time.monotonic() >= self._next_recovery:
            self._next_recovery = time.monotonic() + max(self.node.lease_seconds / 4, 0.2)
            await self._recover()
        free = self.node.concurrency - len(self._tasks)
        claimed = await self._claim(free) if free > 0 else []
        for job in claimed:
            self._spawn(job)
        if free <= 0 or len(claimed) < free:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.node.wake.wait(), self.node.poll_seconds)

    async def _claim(self, limit: int) -> list[Job]:
        now = utcnow()
        until = now + timedelta(seconds=self.node.lease_seconds)
        ownership = self.node.ownership
        skip = ownership.skip_gateways() if ownership is not None else []
        fences = ownership.fences() if ownership is not None else []
        return await self.rt.db.write(
            lambda tx: outbox_repo.claim(
                tx,
                owner=self.node.name,
                now=now,
                lease_until=until,
                limit=limit,
                skip_gateways=skip,
                fences=fences,
            )
        )

    def _spawn(self, job: Job) -> None:
        task = asyncio.get_running_loop().create_task(self._drive(job))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[engine.Result]) -> None:
        self._tasks.discard(task)
        self.node.nudge()  # a slot is free
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed: %r", task.exception())

    async def _drive(self, job: Job) -> engine.Result:
        from app.services import system_config  # the services import the delivery package

        config = delivery_config.parse(await system_config.values(self.rt))
        return await engine.drive(self.rt, job, config)

    async def _recover(self) -> None:
        """Messages whose sender died: their open attempt becomes `unknown`, then the policy
        for an unknown outcome decides (by default: the next gateway)."""
        from app.services import system_config

        config = delivery_config.parse(await system_config.values(self.rt))
        now = utcnow()
        until = now + timedelta(seconds=self.node.lease_seconds)
        name = self.node.name

        def recover(tx: Session) -> list[Job]:
            resumed: list[Job] = []
            for job in outbox_repo.reclaim_expired(
                tx, owner=name, now=now, lease_until=until, limit=100
            ):
                outbox_repo.close_open_attempts(tx, job.id, now=now, error=LEASE_LOST)
                step = policy.next_step(
                    OutcomeUnknown("lease_expired", LEASE_LOST),
                    hops=len(job.route),
                    hop=job.hop,
                    hop_tries=job.hop_tries,
                    remaining=(job.deadline - now).total_seconds(),
                    config=config,
                )
                if step.action == "fail" and config.unknown_outcome != "fail":
                    # Crash safety outranks the retry count: it goes out before its deadline.
                    step = policy.Step("retry", job.hop, policy.backoff(config, job.hop_tries))
                if step.action == "fail":
                    outbox_repo.finish(
                        tx,
                        job.id,
                        owner=name,
                        status="failed",
                        now=now,
                        error=LEASE_LOST,
                        challenge_id=job.challenge_id,
                    )
                    continue
                tries = job.hop_tries if step.hop == job.hop else 0
                outbox_repo.requeue(
                    tx,
                    job.id,
                    owner=name,
                    gateway=job.route[step.hop],
                    hop=step.hop,
                    hop_tries=tries,
                    due=now + timedelta(seconds=step.delay),
                    error=LEASE_LOST,
                )
                resumed.append(job)
            return resumed

        if await self.rt.db.write(recover):
            self.node.nudge()

    async def _listen(self) -> None:
        import asyncpg

        url = make_url(self.rt.db.url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        await connection.add_listener(outbox_repo.CHANNEL, lambda *_: self.node.nudge())
        connection.add_termination_listener(self._listener_lost)
        self._listener = connection

    def _listener_lost(self, _connection: object) -> None:
        self._listener = None  # the next round connects again; the poll covers the gap
