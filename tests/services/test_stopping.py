"""A background loop is stopped for good, even when a cancellation comes back out of a
driver call as that call's error and the loop retries on it."""

from __future__ import annotations

import asyncio

import pytest

from app import stopping


class DriverError(Exception):
    """What a database driver may turn a cancellation into."""


async def a_retrying_loop(statements: list[int], started: asyncio.Event) -> None:
    while True:
        try:
            try:
                statements.append(1)
                started.set()
                await asyncio.Event().wait()  # a statement that never ends on its own
            except asyncio.CancelledError as cancelled:
                raise DriverError("the statement was interrupted") from cancelled
        except DriverError:
            await asyncio.Event().wait()  # "the database is briefly away: retrying in a while"


async def test_a_loop_that_retries_past_a_cancellation_is_still_stopped() -> None:
    statements: list[int] = []
    started = asyncio.Event()
    task = asyncio.create_task(a_retrying_loop(statements, started))
    await started.wait()
    await stopping.stop(task)
    assert task.cancelled()
    assert statements == [1]  # the first cancellation was taken for the statement's error


async def test_a_task_that_never_ends_is_given_up_on_with_an_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    released, waiting = asyncio.Event(), asyncio.Event()

    async def stubborn() -> None:
        waiting.set()
        while not released.is_set():
            try:
                await released.wait()
            except asyncio.CancelledError:
                continue

    monkeypatch.setattr(stopping, "_PATIENCE", 0.0)
    task = asyncio.create_task(stubborn())
    await waiting.wait()
    await stopping.stop(task)
    assert not task.done()
    assert "did not stop" in caplog.text
    released.set()  # the test's own clean-up
    await task


async def test_stopping_nothing_is_fine() -> None:
    await stopping.stop(None)
