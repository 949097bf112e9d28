"""The provider pool: a replaced gateway's provider lets what its sends started finish."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.services.provider_pool import GatewayConfig, ProviderPool
from providers.base import ProviderContext
from tests.waiting import eventually

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def gated_script(directory: Path, gate: Path, done: Path) -> None:
    script = directory / "gated.sh"
    script.write_text(
        f"#!/bin/sh\ncat > /dev/null\nwhile [ ! -e {gate} ]; do sleep 0.01; done\ntouch {done}\n"
    )
    script.chmod(0o755)


def config(version: int) -> GatewayConfig:
    return GatewayConfig(
        id=1,
        name="scripted",
        module="providers.script.ScriptProvider",
        options={"script": "gated.sh", "background": "background", "timeout": "30"},
        headers={},
        updated_at=EPOCH + timedelta(seconds=version),
    )


async def test_a_replaced_provider_lets_its_background_sends_finish(tmp_path: Path) -> None:
    gate, done = tmp_path / "gate", tmp_path / "done"
    gated_script(tmp_path, gate, done)
    pool = ProviderPool(ProviderContext(script_dir=tmp_path))
    async with pool.lease(config(1)) as provider:
        await provider.send("+491701234567", "x")
    async with pool.lease(config(2)) as replacement:  # the gateway was edited
        assert replacement is not provider
    closing = set(pool._closing)
    assert len(closing) == 1 and not any(task.done() for task in closing)
    assert not done.exists()  # the old provider has not killed its running send
    gate.touch()
    await eventually(lambda: done.exists())
    await eventually(lambda: all(task.done() for task in closing))
    await pool.aclose()


async def test_shutdown_stops_a_draining_provider_and_logs_its_sends_failed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gate, done = tmp_path / "gate", tmp_path / "done"
    gated_script(tmp_path, gate, done)
    caplog.set_level(logging.WARNING, logger="smsgw.providers.script")
    pool = ProviderPool(ProviderContext(script_dir=tmp_path))
    async with pool.lease(config(1)) as provider:
        await provider.send("+491701234567", "x")
    pool.forget(1)  # the gateway was deleted: its provider drains
    await pool.aclose()  # and the service stops before the script has finished
    assert not pool._closing
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "gated.sh was stopped before it finished: failed" in logged
    assert not done.exists()
