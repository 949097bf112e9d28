"""The security commands of the CLI, file modes of what the service writes, key settings."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from typer.testing import CliRunner

from app.cli import cli
from app.main import create_app
from app.settings import Settings, get_settings

K1, K2, K3 = (Fernet.generate_key().decode() for _ in range(3))


@pytest.fixture
def run(tmp_path: Path) -> Iterator[object]:
    """`smsgw ...` on a fresh SQLite data directory; returns (exit code, output lines)."""
    runner = CliRunner()

    def invoke(*args: str, key: str = K1) -> tuple[int, list[str]]:
        get_settings.cache_clear()
        env = {"SMSGW_DATA_DIR": str(tmp_path), "SMSGW_ENCRYPTION_KEY": key,
               "SMSGW_DATABASE_URL": ""}  # fmt: skip
        result = runner.invoke(cli, list(args), env=env)
        get_settings.cache_clear()
        return result.exit_code, result.output.splitlines()

    yield invoke
    get_settings.cache_clear()


def test_apikey_add_prints_the_key_alone_on_its_last_line(run):
    code, lines = run("apikey", "add", "svc", "--action", "sms_send", "--action", "tokenlist")
    assert code == 0, lines
    key = lines[-1]
    assert key.startswith("smsgw_") and " " not in key and len(key) > 40
    code, lines = run("apikey", "list")
    assert code == 0 and lines[0].startswith("svc\tsms_send,tokenlist")
    assert key not in "\n".join(lines)
    assert run("apikey", "delete", "svc")[0] == 0
    assert run("apikey", "list") == (0, [])


@pytest.mark.parametrize(
    ("args", "field"),
    [(["bad name", "--action", "sms_send"], "name"), (["svc", "--action", "rm_rf"], "actions")],
)
def test_apikey_add_with_bad_input_names_the_field_and_stores_nothing(run, args, field):
    code, lines = run("apikey", "add", *args)
    assert code == 2 and field in "\n".join(lines)
    assert run("apikey", "list") == (0, [])


def test_admin_delete(run):
    assert run("admin", "add", "ops", "--password", "ops-password")[0] == 0
    assert run("admin", "add", "root", "--password", "root-password")[0] == 0
    code, lines = run("admin", "delete", "ops")
    assert code == 0 and "deleted" in lines[-1]
    code, lines = run("admin", "delete", "ops")
    assert code == 1 and "does not exist" in "\n".join(lines)
    code, lines = run("admin", "delete", "root")
    assert code == 1 and "last admin" in "\n".join(lines)


def _seed_gateway_secret(tmp_path: Path, key: str) -> None:
    from app.main import build_runtime
    from app.migrations import upgrade
    from app.schemas.smsgateway import GatewayIn
    from app.security.caller import Caller
    from app.services import gateways

    async def seed() -> None:
        rt = build_runtime(Settings(data_dir=tmp_path, encryption_key=key))  # type: ignore[arg-type]
        try:
            await upgrade(rt.db.url)
            form = GatewayIn(name="gw1", module="providers.http.HttpProvider",
                             options={"URL": "http://127.0.0.1:9/x", "PASSWORD": "pw"})  # fmt: skip
            await gateways.save(rt, form, Caller("test"))
        finally:
            await rt.db.dispose()

    asyncio.run(seed())


def test_keys_rotate_moves_every_secret_to_the_newest_key(run, tmp_path):
    _seed_gateway_secret(tmp_path, K1)
    code, lines = run("keys", "rotate", key=f"{K2},{K1}")
    assert code == 0 and "1 gateway secret(s) and 0 token seed(s)" in lines[-1]
    # Only the new key now: everything opens (a rotation opens every value).
    assert run("keys", "rotate", key=K2)[0] == 0
    code, lines = run("keys", "rotate", key=K3)
    assert code == 1 and "PASSWORD of SMS gateway 'gw1'" in "\n".join(lines)


def test_keys_generate_prints_a_usable_key(run):
    code, lines = run("keys", "generate")
    assert code == 0 and Fernet(lines[-1].encode())


def test_an_encryption_key_that_is_not_a_fernet_key_is_refused_naming_the_setting():
    with pytest.raises(ValidationError) as refused:
        Settings(encryption_key=f"{K1},not-a-key")  # type: ignore[arg-type]
    assert "encryption_key" in str(refused.value) and "key 2" in str(refused.value)
    assert Settings(encryption_key=f"{K2}, {K1}").encryption_key is not None  # type: ignore[arg-type]


async def test_the_database_its_wal_and_the_key_files_are_created_mode_600(tmp_path):
    previous = os.umask(0o022)
    try:
        app = create_app(Settings(data_dir=tmp_path, admin_password="x" * 16))  # type: ignore[arg-type]
        async with app.router.lifespan_context(app):
            names = [
                "smsgw.db",
                "smsgw.db-wal",
                "smsgw.db-shm",
                "jwt.key",
                "secret.key",
                "apikey.key",
            ]
            for name in names:
                mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
                assert mode == 0o600, f"{name}: {oct(mode)}"
    finally:
        os.umask(previous)


async def test_an_existing_database_readable_by_others_is_made_private(tmp_path):
    (tmp_path / "smsgw.db").touch(mode=0o644)
    app = create_app(Settings(data_dir=tmp_path, admin_password="x" * 16))  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        assert stat.S_IMODE((tmp_path / "smsgw.db").stat().st_mode) == 0o600


def test_db_upgrade_creates_the_database_mode_600(run, tmp_path):
    previous = os.umask(0o022)
    try:
        assert run("db", "upgrade")[0] == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "smsgw.db").stat().st_mode) == 0o600
