"""Rows that expire: the audit trail, the message log, failed-login counters of admin
names (which anyone can create by trying names) and long-expired challenges.

Every worker process runs the purge on its own timer; the deletes are idempotent, so
several running at once cost a little work and change nothing.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from app.db import retention_repo
from app.db.tables import utcnow
from app.delivery import receipts
from app.runtime import Runtime

log = logging.getLogger("smsgw.retention")

# Expired challenges linger this long (a late answer is told "no match", not "unknown").
KEEP_EXPIRED_CHALLENGES = timedelta(hours=1)


def cutoffs(rt: Runtime, now: datetime) -> dict[str, datetime]:
    """Per table, the time before which its rows are deleted; a table kept for ever is absent."""
    settings = rt.settings
    result = {"challenge": now - KEEP_EXPIRED_CHALLENGES}
    if settings.audit_retention_days:
        result["audit"] = now - timedelta(days=settings.audit_retention_days)
    if settings.message_retention_days:
        result["message"] = now - timedelta(days=settings.message_retention_days)
    # A counter must outlive its lock-out, whatever the retention says.
    keep = max(settings.login_failure_retention_seconds, settings.login_lockout_seconds)
    result["login_failure"] = now - timedelta(seconds=keep)
    return result


async def purge(rt: Runtime, now: datetime | None = None) -> dict[str, int]:
    """Delete every expired row, one transaction per table; returns the counts."""
    deleted: dict[str, int] = {}
    for table, before in cutoffs(rt, now or utcnow()).items():
        delete = functools.partial(retention_repo.delete_before, table=table, before=before)
        deleted[table] = await rt.db.write(delete)
    return deleted


async def keep_purging(rt: Runtime) -> None:
    """Purge now and then every purge_interval_seconds, until cancelled."""
    interval = rt.settings.purge_interval_seconds
    while True:
        try:
            deleted = await purge(rt)
            # Messages whose delivery report is overdue become unknown: one UPDATE.
            await receipts.sweep(rt)
        except SQLAlchemyError as exc:  # the next round tries again
            log.warning("purging expired rows failed: %s", type(exc).__name__)
        else:
            if any(deleted.values()):
                log.info("purged expired rows: %s", deleted)
        # Jitter: workers started together do not purge in lockstep.
        await asyncio.sleep(interval * random.uniform(0.8, 1.2))
