"""A prepared statement reads and writes what SQLAlchemy's own execution would, on SQLite
and PostgreSQL, and fails the way it would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db.prepared import Prepared, savepoint
from app.db.tables import Challenge, ConfigEntry, table
from app.runtime import Runtime

CHALLENGE = table(Challenge)
CONFIG = table(ConfigEntry)
C = CHALLENGE.c
COLUMNS = ["transaction_id", "serial", "counter", "created_at", "expires_at", "answered"]
ADD = Prepared(insert(CHALLENGE).returning(C.id), keys=COLUMNS)
BY_SERIAL = select(C.id, C.counter, C.created_at, C.expires_at, C.answered).where(
    C.serial == bindparam("serial")
)
NOW = datetime(2026, 12, 1, 6, 30, 15, 250_000, tzinfo=UTC)


def a_challenge(serial: str, counter: int = 7) -> dict[str, Any]:
    return {
        "transaction_id": f"tx-{serial}-{counter}",
        "serial": serial,
        "counter": counter,
        "created_at": NOW,
        "expires_at": NOW + timedelta(minutes=5),
        "answered": False,
    }


def without_zone(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # SQLite hands datetimes back without their zone, whichever way they are read.
    return tuple(v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row)


async def test_rows_read_by_a_prepared_select_are_those_sqlalchemy_reads(runtime: Runtime) -> None:
    def write_and_read(tx: Session) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
        ADD(tx, a_challenge("PREP1", counter=3))
        ADD(tx, a_challenge("PREP1", counter=4))
        prepared = Prepared(BY_SERIAL.order_by(C.id))(tx, {"serial": "PREP1"}).rows
        core = [
            tuple(row)
            for row in tx.connection().execute(BY_SERIAL.order_by(C.id), {"serial": "PREP1"})
        ]
        return prepared, core

    prepared, core = await runtime.db.write(write_and_read)
    assert len(prepared) == 2
    assert prepared == core
    _, counter, created_at, expires_at, answered = prepared[0]
    assert counter == 3
    assert answered is False  # a bool, not SQLite's 0
    assert without_zone((created_at,)) == (NOW.replace(tzinfo=None),)  # to the microsecond
    assert isinstance(expires_at, datetime)


async def test_an_update_reports_the_rows_it_changed(runtime: Runtime) -> None:
    answer = Prepared(
        update(CHALLENGE)
        .where(C.serial == bindparam("p_serial"), C.answered.is_(False))
        .values(answered=True)
    )

    def answer_twice(tx: Session) -> tuple[int, int]:
        ADD(tx, a_challenge("PREP2"))
        return answer(tx, {"p_serial": "PREP2"}).rowcount, answer(
            tx, {"p_serial": "PREP2"}
        ).rowcount

    assert await runtime.db.write(answer_twice) == (1, 0)


async def test_an_in_list_runs_through_sqlalchemy_with_the_same_result(runtime: Runtime) -> None:
    among = Prepared(
        select(C.serial)
        .where(C.serial.in_(bindparam("serials", expanding=True)))
        .order_by(C.serial)
    )

    def write_and_read(tx: Session) -> list[str]:
        for serial in ("PREP3", "PREP4", "PREP5"):
            ADD(tx, a_challenge(serial))
        return among(tx, {"serials": ["PREP5", "PREP3"]}).scalars()

    assert await runtime.db.write(write_and_read) == ["PREP3", "PREP5"]


async def test_a_duplicate_key_is_sqlalchemys_integrity_error_and_writes_nothing(
    runtime: Runtime,
) -> None:
    add = Prepared(insert(CONFIG), keys=["key", "value"])

    def add_twice(tx: Session) -> None:
        add(tx, {"key": "prep.twice", "value": "1"})
        add(tx, {"key": "prep.twice", "value": "2"})

    with pytest.raises(IntegrityError) as raised:
        await runtime.db.write(add_twice)
    assert "prep.twice" not in str(raised.value)  # the values stay out of the message

    def stored(tx: Session) -> list[str]:
        return list(
            tx.execute(select(CONFIG.c.value).where(CONFIG.c.key == "prep.twice")).scalars()
        )

    assert await runtime.db.read(stored) == []


async def test_an_insert_refuses_a_value_it_has_no_column_for(runtime: Runtime) -> None:
    row = a_challenge("PREP6") | {"note": "would be dropped"}
    with pytest.raises(ValueError, match="note"):
        await runtime.db.write(lambda tx: ADD(tx, row))


async def test_statement_listeners_see_prepared_statements(runtime: Runtime) -> None:
    seen: list[str] = []

    def listen(_c: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    try:
        await runtime.db.write(lambda tx: ADD(tx, a_challenge("PREP7")))
    finally:
        event.remove(Engine, "before_cursor_execute", listen)
    assert [s for s in seen if s.startswith("INSERT INTO challenge")]


async def test_a_savepoint_undoes_its_block_and_keeps_the_rest(runtime: Runtime) -> None:
    def two_writes(tx: Session) -> None:
        ADD(tx, a_challenge("PREP8", counter=1))
        with pytest.raises(RuntimeError), savepoint(tx):
            ADD(tx, a_challenge("PREP8", counter=2))
            raise RuntimeError("refused")
        with savepoint(tx):
            ADD(tx, a_challenge("PREP8", counter=3))

    await runtime.db.write(two_writes)

    def counters(tx: Session) -> list[int]:
        query = select(C.counter).where(C.serial == "PREP8").order_by(C.counter)
        return list(tx.execute(query).scalars())

    assert await runtime.db.read(counters) == [1, 3]
