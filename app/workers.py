"""`smsgw serve --workers N`: gunicorn with uvicorn's worker class.

gunicorn's `reuse_port` gives each worker its own SO_REUSEPORT socket (since its change
2938), so the kernel spreads new connections evenly over the workers by hashing each
connection's addresses. With one shared socket, whichever worker wakes first takes every
waiting connection: with keep-alive clients such as an authentication service, one
worker was measured holding 70 of 100 connections while the other idled (bench/login.py).

The parent prepares what the workers share before starting them (keys, the schema, the
first admin), so they do not race to create it. gunicorn replaces a worker that dies and
stops them all on SIGTERM.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
from typing import Any, ClassVar

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.workers.base import Worker as GunicornWorker
from uvicorn_worker import UvicornWorker

from app.observability import multiprocess
from app.settings import get_settings

_PR_SET_PDEATHSIG = 1


def share_of_cores(number: int, workers: int, cores: list[int]) -> set[int]:
    """The cores worker `number` runs on: the usable cores dealt out like cards."""
    if workers >= len(cores):
        return {cores[number % len(cores)]}
    return {core for index, core in enumerate(cores) if index % workers == number}


class Worker(UvicornWorker):  # type: ignore[misc]  # untyped
    # As with one process: the client address is the peer's, X-Forwarded-For is not
    # believed (a PIN guesser could otherwise pick the address its failures count against).
    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **UvicornWorker.CONFIG_KWARGS,
        "proxy_headers": False,
    }


class _Server(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from app.asgi import app

        return app


def _hooks(workers: int, pin: bool) -> dict[str, Any]:
    """gunicorn's fork hooks: a worker follows its parent out, and with SMSGW_PIN_WORKERS
    runs on its own share of the cores.

    Pinned, its hashing threads and its event loop stay on its cores: argon2 shares its
    caches only with its own process (measured: 27.6 ms of CPU per login against 29 ms when
    the kernel moved the workers between cores)."""
    usable = sorted(os.sched_getaffinity(0))

    def pre_fork(server: Arbiter, worker: GunicornWorker) -> None:
        # In the parent: a replacement takes the share its predecessor left free.
        taken = {getattr(w, "smsgw_number", None) for w in server.WORKERS.values()}
        worker.smsgw_number = next(n for n in range(workers + 1) if n not in taken)

    def post_fork(server: Arbiter, worker: GunicornWorker) -> None:
        _exit_with_parent(server.pid)
        if pin:
            os.sched_setaffinity(0, share_of_cores(worker.smsgw_number % workers, workers, usable))

    def child_exit(_server: Arbiter, worker: GunicornWorker) -> None:
        # In the parent: the worker's live gauges stop counting; its counters stay summed.
        multiprocess.worker_exited(worker.pid)

    return {"pre_fork": pre_fork, "post_fork": post_fork, "child_exit": child_exit}


def _exit_with_parent(parent: int) -> None:
    """Have the kernel send SIGTERM to this worker when the parent dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the kernel was told: nobody will signal
        os._exit(0)


# Idle keep-alive connections stay open this long, with one worker or several (gunicorn's
# default is 2 s, uvicorn's 5 s, a pooled client's expiry often 5 s too): an authentication
# service keeps its connections, and a client reusing one just as the server closes it
# gets a read error instead of an answer.
KEEP_ALIVE_SECONDS = 75


def serve(host: str, port: int, workers: int, log_config: dict[str, Any]) -> int:
    """Run `workers` worker processes until a signal stops them; the exit status."""
    # The preparation runs in a process of its own, so this one starts no thread: gunicorn
    # forks the workers from it, and a fork inherits thread pools without their threads
    # (a worker's first password hash waited forever).
    preparation = [sys.executable, "-c", "from app.workers import prepare; prepare()"]
    if subprocess.run(preparation, check=False).returncode:  # noqa: S603  (a fixed command)
        return 1
    share_hashing_threads(workers)
    options: dict[str, Any] = {
        "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
        "workers": workers,
        "worker_class": Worker,
        "reuse_port": True,
        # Imported once here, forked into every worker: no thread starts at import.
        "preload_app": True,
        "control_socket_disable": True,  # one per user otherwise, shared by every instance
        "backlog": 2048,
        "logconfig_dict": log_config,
        "keepalive": KEEP_ALIVE_SECONDS,
        "graceful_timeout": 30,
        "timeout": 60,
    }
    options |= _hooks(workers, get_settings().pin_workers)
    _Server(options).run()  # exits the process itself on SIGTERM
    return 0


def share_hashing_threads(workers: int) -> None:
    """One hashing thread per core in all: cores ÷ workers in each worker, unless set."""
    usable = os.sched_getaffinity(0)
    # Forked workers inherit the environment, and the app they run is built from the
    # settings: read them again, as `serve` read them before the count was set.
    os.environ.setdefault("SMSGW_HASH_THREADS", str(max(1, len(usable) // workers)))
    get_settings.cache_clear()


def prepare() -> None:
    """Keys, the schema and the first admin, before any worker starts."""
    from app.main import close, prepare

    async def run() -> None:
        await close(await prepare(get_settings()))

    asyncio.run(run())
