"""`smsgw serve --workers N`: N processes on one port, connections spread evenly over them,
a worker that dies replaced, all of them stopped by SIGTERM, cores shared out on request."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from app.settings import get_settings
from app.workers import share_hashing_threads, share_of_cores
from tests.waiting import eventually_sync

PORT_HEX_WIDTH = 4
ADMIN_PASSWORD = "workers-test-password"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _workers(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def _holder(pids: list[int], port: int, client_port: int) -> int | None:
    """The process holding the accepted end of the connection from `client_port`."""
    local, remote = f":{port:0{PORT_HEX_WIDTH}X}", f":{client_port:0{PORT_HEX_WIDTH}X}"
    for pid in pids:
        inodes = set()
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:  # closed by the worker since the listing: not our connection
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
        for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(local) and fields[2].endswith(remote) and fields[9] in inodes:
                return pid
    return None


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def _serving(tmp_path: Path, **settings: str) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMSGW_")}
    env |= {"SMSGW_DATA_DIR": str(tmp_path), "SMSGW_LOG_LEVEL": "WARNING"}
    env |= {"SMSGW_ADMIN_PASSWORD": ADMIN_PASSWORD, **settings}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
        stderr=(tmp_path / "serve.log").open("wb"),  # the logs, for the tests that read them
    )
    try:
        eventually_sync(
            lambda: len(_workers(process.pid)) == 2 and _healthy(f"http://127.0.0.1:{port}"),
            timeout=120,  # a migration and two imports of the app on a loaded machine
        )
        yield process, port
    finally:
        workers = _workers(process.pid)
        process.kill()
        process.wait(10)
        # Workers follow their supervisor: the kernel signals them when it dies.
        eventually_sync(lambda: all(not _alive(pid) for pid in workers))


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    with _serving(tmp_path) as serving:
        yield serving


@pytest.fixture
def two_workers_logging_requests(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    with _serving(tmp_path, SMSGW_LOG_LEVEL="INFO") as (_, port):
        yield tmp_path / "serve.log", port


@pytest.fixture
def two_pinned_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    with _serving(tmp_path, SMSGW_PIN_WORKERS="true") as serving:
        yield serving


def test_keep_alive_connections_are_spread_over_the_workers(two_workers):
    process, port = two_workers
    workers = _workers(process.pid)
    held: Counter[int | None] = Counter()
    for _ in range(60):
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert connection.recv(4096).startswith(b"HTTP/1.1 200")
            # Asked while the connection is open: an idle keep-alive connection is closed
            # by the worker after a few seconds, which a loaded machine may take for 60.
            held[_holder(workers, port, connection.getsockname()[1])] += 1
    assert set(held) <= set(workers), held
    # The kernel hashes each connection to a worker: an even split within chance.
    assert min(held[pid] for pid in workers) >= 15, held


def test_every_worker_hashes_passwords(two_workers):
    # Forked workers must not inherit a hashing pool whose threads stayed behind.
    _, port = two_workers
    for _ in range(6):  # a new connection each: the kernel spreads them over the workers
        reply = httpx.post(
            f"http://127.0.0.1:{port}/auth",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            timeout=30,
        )
        assert reply.status_code == 200, reply.text


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_them_all(two_workers):
    process, port = two_workers
    first, second = _workers(process.pid)
    os.kill(first, signal.SIGKILL)
    eventually_sync(lambda: len(_workers(process.pid)) == 2 and first not in _workers(process.pid))
    eventually_sync(lambda: _healthy(f"http://127.0.0.1:{port}"))

    workers = _workers(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert not any(_alive(pid) for pid in workers), "a worker outlived serve"
    assert second in workers


def test_workers_are_left_to_the_kernel_unless_pinning_is_asked_for(two_workers):
    process, _ = two_workers
    usable = os.sched_getaffinity(0)
    assert [os.sched_getaffinity(pid) for pid in _workers(process.pid)] == [usable, usable]


def test_pinned_workers_each_run_on_their_own_share_of_the_cores(two_pinned_workers):
    process, _ = two_pinned_workers
    usable = os.sched_getaffinity(0)
    if len(usable) < 2:
        pytest.skip("one core: both workers share it")
    first, second = _workers(process.pid)
    shares = [os.sched_getaffinity(first), os.sched_getaffinity(second)]
    assert shares[0].isdisjoint(shares[1])
    assert shares[0] | shares[1] == usable
    # A replacement takes the share its predecessor left free.
    os.kill(first, signal.SIGKILL)
    eventually_sync(lambda: len(_workers(process.pid)) == 2 and first not in _workers(process.pid))
    [replacement] = [pid for pid in _workers(process.pid) if pid != second]
    eventually_sync(lambda: os.sched_getaffinity(replacement) == shares[0])


def test_the_access_log_names_the_path_without_its_query_string(two_workers_logging_requests):
    log, port = two_workers_logging_requests
    assert httpx.get(f"http://127.0.0.1:{port}/healthz?pass=secret-pin-4711").status_code == 200
    # One line per request from smsgw.access: the route template, never the raw path.
    eventually_sync(lambda: b"smsgw.access: GET /healthz 200" in log.read_bytes())
    assert b"secret-pin-4711" not in log.read_bytes()


@pytest.mark.parametrize(
    ("workers", "cores", "shares"),
    [
        (2, [0, 1], [{0}, {1}]),
        (2, [0, 1, 2, 3], [{0, 2}, {1, 3}]),
        (3, [4, 5], [{4}, {5}, {4}]),
        (1, [0, 1], [{0, 1}]),
    ],
)
def test_cores_are_dealt_out_to_the_workers(workers, cores, shares):
    assert [share_of_cores(n, workers, cores) for n in range(workers)] == shares


def test_the_workers_share_the_hashing_threads_out_even_when_the_settings_were_read(
    monkeypatch: pytest.MonkeyPatch,
):
    # `serve` reads the settings (host, port, logging) before it knows the worker count.
    monkeypatch.delenv("SMSGW_HASH_THREADS", raising=False)
    get_settings.cache_clear()
    assert get_settings().hash_threads is None
    try:
        share_hashing_threads(workers=len(os.sched_getaffinity(0)))
        assert get_settings().hash_threads == 1
    finally:
        # monkeypatch restores a variable it removed, not one this test's call added.
        os.environ.pop("SMSGW_HASH_THREADS", None)
        get_settings.cache_clear()
