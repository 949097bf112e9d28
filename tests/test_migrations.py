"""Alembic owns the schema: it builds an empty database and matches the table models."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.db.tables  # noqa: F401  (the models)
from app.migrations import upgrade_sync


def _drift(url: str) -> list[object]:
    async def compare() -> list[object]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as connection:

                def diff(sync: Connection) -> list[object]:
                    return list(
                        compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
                    )

                return await connection.run_sync(diff)
        finally:
            await engine.dispose()

    return asyncio.run(compare())


def test_upgrade_head_builds_an_empty_sqlite_database_matching_the_models(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    upgrade_sync(url)
    upgrade_sync(url)  # a second run finds nothing to do
    assert _drift(url) == []


def test_upgrade_head_builds_an_empty_postgresql_database_matching_the_models(postgres_url):
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    plain = postgres_url.replace("postgresql+asyncpg://", "postgresql://")

    async def create() -> None:
        connection = await asyncpg.connect(plain)
        await connection.execute(f'CREATE DATABASE "{name}"')
        await connection.close()

    asyncio.run(create())
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    upgrade_sync(url)
    assert _drift(url) == []


@pytest.mark.parametrize("scheme", ["postgresql://", "postgres://"])
def test_plain_postgresql_urls_get_the_async_driver(scheme):
    from app.settings import Settings

    settings = Settings(database_url=f"{scheme}u:p@h/db")
    assert settings.effective_database_url == "postgresql+asyncpg://u:p@h/db"
