"""Several worker processes on one port, each accepting on a socket of its own.

uvicorn's own workers share one listening socket, and whichever wakes first takes every
waiting connection: with keep-alive clients such as an authentication service, one worker
was measured holding 70 of 100 connections while the other idled (bench/login.py). Here each
worker binds the port with SO_REUSEPORT, so the kernel spreads new connections evenly
over the workers by hashing each connection's addresses.

The parent prepares what the workers share before starting them (keys, the schema, the
first admin), so they do not race to create it; then it only supervises: it replaces a
worker that dies and stops them all on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Any

from app.observability import multiprocess
from app.settings import Settings, get_settings

log = logging.getLogger("smsgw.workers")
_SETTLE_SECONDS = 5.0  # a worker dying sooner than this after its start died "at start"
_PR_SET_PDEATHSIG = 1
_MAX_DEATHS_AT_START = 5  # in a row: then something is wrong that a restart won't fix


def listening_socket(host: str, port: int) -> socket.socket:
    family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, protocol)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _exit_with_parent() -> None:
    """Have the kernel send SIGTERM to this worker when the supervisor dies (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return


def share_of_cores(number: int, workers: int, cores: list[int]) -> set[int]:
    """The cores worker `number` runs on: the usable cores dealt out like cards."""
    if workers >= len(cores):
        return {cores[number % len(cores)]}
    return {core for index, core in enumerate(cores) if index % workers == number}


def run_worker(
    host: str, port: int, log_config: dict[str, Any], cores: set[int] | None = None
) -> None:
    import uvicorn

    _exit_with_parent()
    if cores:
        # Its hashing threads and its event loop stay on its own cores: argon2 then shares
        # its caches only with its own process (measured: 27.6 ms of CPU per login against
        # 29 ms when the kernel moved the workers between cores).
        os.sched_setaffinity(0, cores)
    config = uvicorn.Config(
        "app.asgi:app", log_config=log_config, proxy_headers=False, host=host, port=port
    )
    uvicorn.Server(config).run(sockets=[listening_socket(host, port)])


def serve(host: str, port: int, workers: int, log_config: dict[str, Any]) -> int:
    """Run `workers` worker processes until a signal stops them; the exit status."""
    settings = asyncio.run(_prepare())
    usable = sorted(os.sched_getaffinity(0))
    # Spawned workers inherit the environment: one hashing thread per core in all.
    os.environ.setdefault("SMSGW_HASH_THREADS", str(max(1, len(usable) // workers)))
    context = multiprocessing.get_context("spawn")
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def start(number: int) -> tuple[BaseProcess, float]:
        cores = share_of_cores(number, workers, usable) if settings.pin_workers else None
        process = context.Process(target=run_worker, args=(host, port, log_config, cores))
        process.start()
        return process, time.monotonic()

    running = [start(number) for number in range(workers)]
    status, deaths_at_start = 0, 0
    while not stopping:
        time.sleep(0.2)
        for index, (process, started) in enumerate(running):
            if process.is_alive() or stopping:
                continue
            multiprocess.worker_exited(process.pid or 0)
            deaths_at_start = (
                deaths_at_start + 1 if time.monotonic() - started < _SETTLE_SECONDS else 0
            )
            if deaths_at_start >= _MAX_DEATHS_AT_START:
                log.error("workers keep exiting at start (%s); stopping", process.exitcode)
                stopping, status = True, 1
                break
            log.warning("worker %s exited (%s); starting another", process.pid, process.exitcode)
            time.sleep(deaths_at_start)  # back off while a cause persists
            running[index] = start(index)
    for process, _ in running:
        if process.is_alive():
            process.terminate()  # SIGTERM: uvicorn finishes the requests in flight
    for process, _ in running:
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join(5)
        multiprocess.worker_exited(process.pid or 0)
    return status


async def _prepare() -> Settings:
    from app.main import close, prepare

    settings = get_settings()
    await close(await prepare(settings))
    return settings
