"""The suite at large tests logins, not traffic control: it runs with the counting rules,
the resend cooldown and the conversion guard switched off. tests/api/test_traffic*.py
switch them back on."""

from __future__ import annotations

from sqlalchemy import Connection

from app.runtime import Runtime
from app.traffic import repo
from app.traffic.settings import DEFAULT_RULES, ConversionGuard, TrafficSettingsIn


def _quiet(tx: Connection) -> None:
    for rule in DEFAULT_RULES:
        repo.save_rule(tx, rule.model_copy(update={"active": False}))
    settings = TrafficSettingsIn(resend_cooldown=0, conversion=ConversionGuard(mode="off"))
    repo.save_settings(tx, settings)


async def quiet(rt: Runtime) -> None:
    await rt.db.write(lambda tx: _quiet(tx.connection()))
    rt.traffic.changed()
