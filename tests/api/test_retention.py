"""Rows expire: the audit trail, the message log, failed-login counters, old challenges."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from app.db.tables import AuditEntry, Challenge, LoginFailure, MessageLog, utcnow
from app.services import retention


async def _seed(runtime, age: timedelta, tag: str) -> None:
    at = utcnow() - age

    def add(tx):
        tx.add(AuditEntry(ts=at, action="test", info=tag))
        tx.add(MessageLog(created_at=at, gateway="gw", phone="+49***", status="sent", error=tag))
        tx.add(LoginFailure(username=f"nobody-{tag}", failures=1, last_failure=at))
        tx.add(
            Challenge(transaction_id=tag, serial="PISM1", counter=0, created_at=at, expires_at=at)
        )

    await runtime.db.write(add)


async def _left(runtime) -> dict[str, int]:
    def count(tx):
        counts = {}
        for name, model in (
            ("audit", AuditEntry),
            ("message", MessageLog),
            ("login_failure", LoginFailure),
            ("challenge", Challenge),
        ):
            query = select(func.count()).select_from(model)
            if model is AuditEntry:
                query = query.where(AuditEntry.action == "test")
            counts[name] = int(tx.execute(query).scalar_one())
        return counts

    return await runtime.db.read(count)


async def test_rows_past_their_retention_are_purged_and_fresh_ones_stay(runtime):
    settings = runtime.settings
    assert settings.audit_retention_days == 90 and settings.message_retention_days == 30
    await _seed(runtime, timedelta(days=91), "old")
    await _seed(runtime, timedelta(minutes=1), "fresh")
    deleted = await retention.purge(runtime)
    assert deleted == {"audit": 1, "message": 1, "login_failure": 1, "challenge": 1}
    assert await _left(runtime) == {"audit": 1, "message": 1, "login_failure": 1, "challenge": 1}


async def test_each_retention_is_its_own_setting(runtime, monkeypatch):
    await _seed(runtime, timedelta(days=40), "middle")
    monkeypatch.setattr(runtime.settings, "audit_retention_days", 0)  # kept for ever
    deleted = await retention.purge(runtime)
    assert deleted["message"] == 1 and deleted["login_failure"] == 1
    assert "audit" not in deleted
    assert (await _left(runtime))["audit"] == 1


async def test_a_failure_counter_outlives_its_lock_out(runtime, monkeypatch):
    monkeypatch.setattr(runtime.settings, "login_failure_retention_seconds", 0)
    lockout = runtime.settings.login_lockout_seconds
    await _seed(runtime, timedelta(seconds=lockout // 2), "locked")
    await retention.purge(runtime)
    assert (await _left(runtime))["login_failure"] == 1


async def test_workers_purging_at_once_delete_each_row_once(runtime):
    await _seed(runtime, timedelta(days=91), "old")
    results = await asyncio.gather(*(retention.purge(runtime) for _ in range(4)))
    assert sum(r["audit"] for r in results) == 1
    assert sum(r["message"] for r in results) == 1
    assert await _left(runtime) == {"audit": 0, "message": 0, "login_failure": 0, "challenge": 0}
