"""The real service under uvicorn in its own process, for end-to-end tests: a generated
client, schemathesis and Swagger UI in a browser all talk to it over TCP on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN, PASSWORD = "admin", "e2e-admin-password"


@dataclass(frozen=True)
class LiveService:
    """Where the live service listens, and the bootstrapped admin's credentials."""

    url: str
    username: str
    password: str
    log: Path

    def login(self) -> str:
        """A fresh admin JWT from POST /auth."""
        reply = httpx.post(
            f"{self.url}/auth", json={"username": self.username, "password": self.password}
        )
        assert reply.status_code == 200, reply.text
        token: str = reply.json()["result"]["value"]["token"]
        return token

    def log_tail(self, lines: int = 60) -> str:
        """The end of the service's console output, for failure messages."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            output = log.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"the service did not answer GET /healthz with 200:\n{output}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """smsgw on SQLite in a fresh data directory, served by `smsgw serve` (uvicorn)."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    port = _free_port()
    # The service reads only what this fixture sets: a developer's or CI's SMSGW_* variables
    # (a PostgreSQL URL, keys) must not leak into it.
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMSGW_")}
    env |= {
        "SMSGW_DATA_DIR": str(data_dir),
        "SMSGW_ADMIN_USER": ADMIN,
        "SMSGW_ADMIN_PASSWORD": PASSWORD,
        "SMSGW_LOG_LEVEL": "WARNING",
        # schemathesis posts wrong passwords for "admin" (the documented example) to /auth;
        # the default lock-out (5 failures) would then refuse every later login of the suite.
        "SMSGW_LOGIN_MAX_FAILURES": "1000000",
    }
    log = data_dir / "service.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=data_dir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(url, process, log)
        yield LiveService(url=url, username=ADMIN, password=PASSWORD, log=log)
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
