"""Shared fixtures: the service on SQLite and on PostgreSQL, an admin client, peers."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from app.main import create_app
from app.runtime import Runtime
from app.services import admins, circuit
from app.settings import Settings
from tests.peers.http_sink import HttpSink
from tests.peers.postgres import throwaway_postgres
from tests.traffic_quiet import quiet

ADMIN, PASSWORD = "admin", "admin-test-password"
BACKENDS = ["sqlite", "postgresql"]
if os.environ.get("SMSGW_TEST_BACKENDS"):
    BACKENDS = os.environ["SMSGW_TEST_BACKENDS"].split(",")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = os.environ.get("SMSGW_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Settings:
    data_dir = tmp_path_factory.mktemp(f"data-{backend}")
    url = None
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
    return Settings(
        data_dir=data_dir,
        database_url=url,
        admin_user=ADMIN,
        admin_password=PASSWORD,  # type: ignore[arg-type]
        script_dir=data_dir / "scripts",
        login_max_failures=5,
        login_lockout_seconds=60,
        max_body_bytes=64 * 1024,
    )


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def service(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest_asyncio.fixture(loop_scope="session")
async def runtime(service: FastAPI) -> AsyncIterator[Runtime]:
    """The runtime of a service whose database is empty but for the bootstrapped admin."""
    rt: Runtime = service.state.runtime
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]

    def empty(tx: Session) -> None:
        for table in tables:
            tx.execute(text(f'DELETE FROM "{table}"'))

    await rt.db.write(empty)
    for cache in (rt.gateway_cache, rt.policy_cache, rt.config_cache):
        cache.clear()
    circuit.forget()  # the circuits it remembers were derived from the rows just deleted
    rt.traffic.semaphores.clear()
    await admins.bootstrap(rt)
    await quiet(rt)
    yield rt
    rt.gateway_cache.clear()
    rt.policy_cache.clear()
    await rt.pool.aclose()


class Api:
    """An HTTP client for the service that speaks the envelope."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token: str | None = None

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        merged = {"Authorization": self.token} if self.token else {}
        merged.update(headers or {})
        return merged

    async def login(self, username: str = ADMIN, password: str = PASSWORD) -> str:
        reply = await self.client.post("/auth", json={"username": username, "password": password})
        assert reply.status_code == 200, reply.text
        self.token = reply.json()["result"]["value"]["token"]
        return self.token

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Any = None,
        params: Any = None,
        headers: dict[str, str] | None = None,
        content: Any = None,
    ) -> httpx.Response:
        reply = await self.client.request(
            method,
            path,
            json=json,
            data=data,
            params=params,
            content=content,
            headers=self._headers(headers),
        )
        assert reply.status_code != 500, reply.text
        return reply

    async def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        reply = await self.request(method, path, **kwargs)
        assert reply.status_code == 200, reply.text
        body: dict[str, Any] = reply.json()
        assert body["result"]["status"] is True
        return body

    async def value(self, path: str, **kwargs: Any) -> Any:
        return (await self.call("GET", path, **kwargs))["result"]["value"]

    async def post(self, path: str, body: dict[str, Any], *, form: bool = False) -> Any:
        kwargs = {"data": body} if form else {"json": body}
        return (await self.call("POST", path, **kwargs))["result"]["value"]

    async def delete(self, path: str) -> Any:
        return (await self.call("DELETE", path))["result"]["value"]

    async def error(
        self, method: str, path: str, *, status: int, code: int | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        reply = await self.request(method, path, **kwargs)
        assert reply.status_code == status, reply.text
        body = reply.json()
        assert body["result"]["status"] is False
        assert body["detail"] is None
        if code is not None:
            assert body["result"]["error"]["code"] == code, body
        error: dict[str, Any] = body["result"]["error"]
        return error

    async def post_error(
        self,
        path: str,
        body: dict[str, Any],
        *,
        status: int,
        code: int | None = None,
        form: bool = False,
    ) -> dict[str, Any]:
        kwargs = {"data": body} if form else {"json": body}
        return await self.error("POST", path, status=status, code=code, **kwargs)


@pytest_asyncio.fixture(loop_scope="session")
async def anonymous_api(service: FastAPI, runtime: Runtime) -> AsyncIterator[Api]:
    transport = httpx.ASGITransport(app=service, client=("127.0.0.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://smsgw.test") as client:
        yield Api(client)


@pytest_asyncio.fixture(loop_scope="session")
async def admin_api(anonymous_api: Api) -> Api:
    await anonymous_api.login()
    return anonymous_api


@pytest_asyncio.fixture(loop_scope="session")
async def http_sink() -> AsyncIterator[HttpSink]:
    sink = await HttpSink().start()
    yield sink
    await sink.stop()


@pytest.fixture
def script_dir(settings: Settings) -> Path:
    path = settings.effective_script_dir
    path.mkdir(parents=True, exist_ok=True)
    return path
