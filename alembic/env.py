"""Runs migrations on the async engine; the URL comes from smsgw's settings."""

from __future__ import annotations

import asyncio

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.db.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from alembic import context
from app.settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    return config.attributes.get("url") or get_settings().effective_database_url


def _migrate(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several workers may start at once; one migrates, the others wait and find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(7150001)"))
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_async_engine(_url())
    async with engine.begin() as connection:
        await connection.run_sync(_migrate)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
