"""Shared by the benchmarks: start the service and a sink as processes, drive load, measure."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
ADMIN, PASSWORD = "bench", "bench-password-123"
_PROCESS_OF: dict[str, int] = {}  # service URL -> pid of its uvicorn process


def _process_tree(pid: int) -> list[int]:
    tree, index = [pid], 0
    while index < len(tree):
        children = Path(f"/proc/{tree[index]}/task/{tree[index]}/children")
        if children.exists():
            tree += [int(child) for child in children.read_text().split()]
        index += 1
    return tree


def cpu_seconds(url: str) -> float:
    """CPU time used so far by the service at `url` and its worker processes (Linux)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in _process_tree(_PROCESS_OF[url]):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_http(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def sink_process(delay: float, record: bool = False) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.peers.http_sink", str(port), str(delay)]
        + (["record"] if record else []),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(url + "/__stats", process)
        yield url
    finally:
        process.terminate()
        process.wait(10)


@contextmanager
def service_process(
    database_url: str | None = None, workers: int = 1, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="smsgw-bench-") as data_dir:
        env = {
            **os.environ,
            "SMSGW_DATA_DIR": data_dir,
            "SMSGW_ADMIN_USER": ADMIN,
            "SMSGW_ADMIN_PASSWORD": PASSWORD,
            "SMSGW_LOG_LEVEL": "WARNING",
            **(extra_env or {}),
        }
        if database_url:
            env["SMSGW_DATABASE_URL"] = database_url
        subprocess.run(
            [sys.executable, "-m", "app.cli", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        _PROCESS_OF[url] = process.pid
        try:
            _wait_http(url + "/healthz", process, 120)  # a busy machine imports slowly
            yield url
        finally:
            del _PROCESS_OF[url]
            process.terminate()
            process.wait(15)


class Client:
    """A keep-alive aiohttp client against the service, speaking the envelope."""

    def __init__(self, base: str, concurrency: int) -> None:
        self.base = base
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=concurrency, force_close=False),
            timeout=aiohttp.ClientTimeout(total=120),
        )
        self.token = ""

    async def login(self) -> None:
        body = await self.call("POST", "/auth", {"username": ADMIN, "password": PASSWORD})
        self.token = body["result"]["value"]["token"]

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        status, answer, _ = await self.timed(method, path, body)
        if status != 200:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer

    async def timed(self, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
        started = time.perf_counter()
        async with self.session.request(
            method, self.base + path, json=body, headers={"Authorization": self.token}
        ) as reply:
            answer = (
                await reply.json(content_type=None)
                if "json" in reply.content_type
                else await reply.text()
            )
            return reply.status, answer, time.perf_counter() - started

    async def close(self) -> None:
        await self.session.close()


@dataclass
class Run:
    ok: int
    failed: int
    elapsed: float
    latencies: list[float]
    finished_at: list[float] = field(default_factory=list)  # seconds since the start
    ramp: float = 0.0
    service_cpu_s: float | None = None

    def figures(self) -> dict[str, float]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

        figures: dict[str, float] = {
            "requests": self.ok + self.failed,
            "ok": self.ok,
            "failed": self.failed,
            "elapsed_s": round(self.elapsed, 3),
            "per_s": round((self.ok + self.failed) / self.elapsed, 1),
        }
        if self.service_cpu_s is not None:
            # What one request costs the service, whatever else ran on the machine meanwhile.
            figures["service_cpu_ms_per_request"] = round(
                self.service_cpu_s * 1000 / (self.ok + self.failed), 2
            )
        if self.ramp:
            # Once every connection is open: the rate the service sustains under full load.
            steady = [t for t in self.finished_at if t >= self.ramp]
            figures["steady_per_s"] = round(len(steady) / (self.elapsed - self.ramp), 1)
        return figures | {
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": round(max(ordered) * 1000, 1),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
        }


class RawConnection:
    """One keep-alive HTTP/1.1 connection with next to no client-side cost: a Python HTTP
    client spends as much CPU per request as the service, so the load generator would
    otherwise take the service's cores."""

    def __init__(self, base: str, token: str) -> None:
        host_port = base.removeprefix("http://")
        self.host, port = host_port.split(":")
        self.port = int(port)
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if self.writer is None:
            await self.connect()
        assert self.reader is not None
        payload = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
            f"Authorization: {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        self.writer.write(head + payload)
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        length = 0
        for line in header.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        answer = json.loads(await self.reader.readexactly(length)) if length else None
        return status, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def drive(
    client: Client,
    method: str,
    path: str,
    bodies: Sequence[Any],
    concurrency: int,
    ramp: float = 0.0,
    ok_statuses: tuple[int, ...] = (200,),
) -> tuple[Run, list[Any]]:
    """Send every body with at most `concurrency` in flight; collect latencies and answers.

    `ramp` spreads the start of the connections over that many seconds, as load tools do:
    started all at once, the requests would reach a fixed-delay gateway and come back in
    lock-step waves for the whole run, which real traffic does not do.

    The connections are open before the clock starts: an authentication service keeps its
    connections to smsgw open, so opening them is not part of a login.
    """
    queue: asyncio.Queue[tuple[int, Any]] = asyncio.Queue()
    for item in enumerate(bodies):
        queue.put_nowait(item)
    answers: list[Any] = [None] * len(bodies)
    latencies: list[float] = []
    finished_at: list[float] = []
    failed = 0
    connections = [RawConnection(client.base, client.token) for _ in range(concurrency)]
    await asyncio.gather(*(connection.connect() for connection in connections))
    measured = client.base in _PROCESS_OF
    cpu_before = cpu_seconds(client.base) if measured else 0.0
    begun = time.perf_counter()

    async def worker(number: int) -> None:
        nonlocal failed
        if ramp:
            await asyncio.sleep(ramp * number / concurrency)
        connection = connections[number]
        try:
            while not queue.empty():
                index, body = queue.get_nowait()
                started = time.perf_counter()
                status, answer = await connection.request(method, path, body)
                finished = time.perf_counter()
                latencies.append(finished - started)
                finished_at.append(finished - begun)
                answers[index] = answer
                if status not in ok_statuses:
                    failed += 1
        finally:
            connection.close()

    await asyncio.gather(*(worker(number) for number in range(concurrency)))
    elapsed = time.perf_counter() - begun
    cpu = cpu_seconds(client.base) - cpu_before if measured else None
    run = Run(len(bodies) - failed, failed, elapsed, latencies, finished_at, ramp, cpu)
    return run, answers


async def sink_count(session_base: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(session_base + "/__stats") as r:
        return int((await r.json())["count"])


def emit(figures: dict[str, Any]) -> None:
    print(json.dumps(figures), flush=True)
