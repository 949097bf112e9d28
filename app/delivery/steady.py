"""The engine's outbox writes, carried through a database that is briefly away.

A drive that has sent a message must record it: if the write failed for good, the message
would stay `sending` until its lease ran out and then go out again. So a write that fails
because the database cannot be reached is tried again, with a growing pause, for as long
as this process's lease on the message would last; only then is the error raised (another
process may by then have taken the message over, and the lease check in each write keeps
it from being written twice).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    NotSupportedError,
    ProgrammingError,
)
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from app.delivery.node import Node

log = logging.getLogger("smsgw.delivery")
T = TypeVar("T")
_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 2.0


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database could not be reached (worth waiting for), not that
    the write itself was wrong."""
    if isinstance(exc, DBAPIError):
        # Drivers differ in how they class a lost connection (asyncpg's often arrive as a
        # plain DBAPIError); only the errors about the statement itself are final.
        wrong = IntegrityError | ProgrammingError | DataError | NotSupportedError
        return exc.connection_invalidated or not isinstance(exc, wrong)
    return isinstance(exc, OSError | ConnectionError | TimeoutError)


async def write(node: Node, work: Callable[[Session], T]) -> T:
    """`node.group.run(work)`, waited through an unreachable database for up to a lease."""
    give_up = time.monotonic() + node.lease_seconds
    pause = _FIRST_PAUSE
    while True:
        try:
            return await node.group.run(work)
        except Exception as exc:
            if not unreachable(exc) or time.monotonic() + pause >= give_up:
                raise
            log.warning(
                "outbox write failed (%s); trying again in %.2f s", type(exc).__name__, pause
            )
        await asyncio.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE)
