"""Stopping a background loop for good, so that a shutdown never waits forever."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("smsgw")
_PATIENCE = 10.0  # seconds a loop gets to end before the shutdown goes on without it


async def stop(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and wait for its end.

    A cancellation that lands inside a database driver's call can come back out of it as
    that call's error; a loop that retries on such errors then carries on as if nothing
    happened, and a plain `cancel(); await task` waits for it forever (a service that
    ignored SIGTERM was found that way). So the task is cancelled again until it ends, and
    given up on after a while with an error in the log.
    """
    if task is None:
        return
    loop = asyncio.get_running_loop()
    give_up = loop.time() + _PATIENCE
    while not task.done():
        if loop.time() >= give_up:
            log.error("background task %s did not stop; shutting down without it", task)
            return
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s failed: %r", task, task.exception())
