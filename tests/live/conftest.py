"""The real service under uvicorn in its own process, for tests that need a live server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers.postgres import _free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class LiveService:
    url: str
    username: str
    password: str


@pytest.fixture(scope="session")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    port = _free_port()
    env = {
        **os.environ,
        "SMSGW_DATA_DIR": str(tmp_path_factory.mktemp("live")),
        "SMSGW_ADMIN_USER": "admin",
        "SMSGW_ADMIN_PASSWORD": "live-admin-password",
        "SMSGW_LOG_LEVEL": "WARNING",
        "SMSGW_LOGIN_MAX_FAILURES": "1000",
    }
    env.pop("SMSGW_DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the service did not come up") from None
                time.sleep(0.1)
        yield LiveService(url, "admin", "live-admin-password")
    finally:
        process.terminate()
        process.wait(15)
