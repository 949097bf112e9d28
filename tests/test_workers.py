"""`smsgw serve --workers N`: N processes on one port, connections spread evenly over them,
a worker that dies replaced, all of them stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.workers import share_of_cores

PORT_HEX_WIDTH = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _workers(parent: int) -> list[int]:
    children = Path(f"/proc/{parent}/task/{parent}/children")
    pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
    return [pid for pid in pids if b"spawn_main" in _command_line(pid)]


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return b""


def _accepted_connections(pid: int, port: int) -> int:
    """Established connections whose local end is `port`, held open by process `pid`."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    local = f":{port:0{PORT_HEX_WIDTH}X}"
    count = 0
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(local) and fields[3] == "01" and fields[9] in inodes:
            count += 1
    return count


def _alive(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    try:
        return "State:\tZ" not in status.read_text()
    except FileNotFoundError:
        return False


def _wait(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("SMSGW_")}
    env |= {"SMSGW_DATA_DIR": str(tmp_path), "SMSGW_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        cwd=tmp_path,
    )
    try:
        _wait(lambda: len(_workers(process.pid)) == 2 and _healthy(f"http://127.0.0.1:{port}"))
        yield process, port
    finally:
        workers = _workers(process.pid)
        process.kill()
        process.wait(10)
        # Workers follow their supervisor: the kernel signals them when it dies.
        _wait(lambda: all(not _alive(pid) for pid in workers), 20)


def test_keep_alive_connections_are_spread_over_the_workers(two_workers):
    process, port = two_workers
    connections = []
    for _ in range(60):
        connection = socket.create_connection(("127.0.0.1", port))
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert connection.recv(4096).startswith(b"HTTP/1.1 200")
        connections.append(connection)
    try:
        held = [_accepted_connections(pid, port) for pid in _workers(process.pid)]
        assert sum(held) == 60
        # The kernel hashes each connection to a worker: an even split within chance.
        assert min(held) >= 15, held
    finally:
        for connection in connections:
            connection.close()


def test_a_worker_that_dies_is_replaced_and_sigterm_stops_them_all(two_workers):
    process, port = two_workers
    first, second = _workers(process.pid)
    os.kill(first, signal.SIGKILL)
    _wait(lambda: len(_workers(process.pid)) == 2 and first not in _workers(process.pid))
    _wait(lambda: _healthy(f"http://127.0.0.1:{port}"))

    workers = _workers(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert not any(_alive(pid) for pid in workers), "a worker outlived serve"
    assert second in workers


def test_each_worker_runs_on_its_own_share_of_the_cores(two_workers):
    process, _ = two_workers
    shares = [os.sched_getaffinity(pid) for pid in _workers(process.pid)]
    usable = os.sched_getaffinity(0)
    if len(usable) < 2:
        pytest.skip("one core: both workers share it")
    assert shares[0].isdisjoint(shares[1])
    assert shares[0] | shares[1] == usable


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
