"""`smsgw serve --workers 2`: /metrics counts every worker's requests, whichever answers,
and the workers' logs are JSON lines."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.observability.scraping import parse, value
from tests.waiting import eventually_sync

REQUESTS = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _workers(parent: int) -> list[int]:
    """The serving children of `parent` (whichever way they were started)."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    return [pid for pid in pids if _alive(pid) and b"_tracker" not in _command_line(pid)]


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _alive(pid: int) -> bool:
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def two_json_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMSGW_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env |= {"SMSGW_DATA_DIR": str(tmp_path), "SMSGW_LOG_FORMAT": "json"}
    stale = tmp_path / "metrics" / "counter_1.db"
    stale.parent.mkdir()
    stale.write_bytes(b"left over from an earlier run")
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=tmp_path,
            stderr=sink,
            stdout=subprocess.DEVNULL,
        )
    try:
        # A loaded machine starts two workers slowly: wait for both, generously.
        eventually_sync(
            lambda: len(_workers(process.pid)) == 2 and _healthy(f"http://127.0.0.1:{port}"), 90
        )
        yield process, port, tmp_path
    finally:
        workers = _workers(process.pid)
        process.terminate()
        process.wait(30)
        eventually_sync(lambda: all(not _alive(pid) for pid in workers), 20)


def _get_on_a_new_connection(port: int, path: str) -> None:
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")


def test_metrics_add_up_the_requests_of_every_worker(two_json_workers):
    process, port, data_dir = two_json_workers
    for _ in range(REQUESTS):
        _get_on_a_new_connection(port, "/readyz")  # the kernel spreads them over both
    answering = set()
    for _ in range(6):  # whichever worker answers the scrape, it sees every count
        reply = httpx.get(f"http://127.0.0.1:{port}/metrics", headers={"Connection": "close"})
        samples = parse(reply.text)
        counted = value(
            samples, "smsgw_http_requests_total", route="/readyz", method="GET", status="200"
        )
        assert counted == REQUESTS
        answering.add(reply.headers["x-request-id"])
    files = {p.name for p in (data_dir / "metrics").iterdir()}
    assert "counter_1.db" not in files, "the directory was not emptied at start"
    workers = _workers(process.pid)
    assert {f"counter_{pid}.db" for pid in workers} <= files, "a worker counted nothing"


def test_serve_logs_one_json_object_per_line(two_json_workers):
    _, port, data_dir = two_json_workers
    httpx.get(f"http://127.0.0.1:{port}/readyz", headers={"X-Request-ID": "probe-7"})
    log = data_dir / "serve.log"
    eventually_sync(lambda: b"probe-7" in log.read_bytes())
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    probe = next(e for e in entries if e.get("request_id") == "probe-7")
    assert probe["route"] == "/readyz" and probe["status"] == 200 and "latency_ms" in probe
