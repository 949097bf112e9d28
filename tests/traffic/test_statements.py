"""The statements every login runs find their counters by primary key, never by a scan."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateTable

from app.traffic import repo


def _plan(sql: str, parameters: dict[str, object]) -> list[str]:
    db = sqlite3.connect(":memory:")
    table = CreateTable(repo.COUNTER).compile(dialect=sqlite.dialect())
    db.execute(str(table))
    return [row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + sql, parameters)]


@pytest.mark.parametrize("keys", [1, 2, 3])
def test_an_answer_counts_by_primary_key(keys: int) -> None:
    statement = repo._answered_statement(keys).statement
    parameters: dict[str, object] = {"now": 0.0}
    for i in range(keys):
        parameters |= {f"rule{i}": "conversion", f"subject{i}": f"+49170{i}"}
    plan = _plan(str(statement), parameters)
    assert not [step for step in plan if step.startswith("SCAN")], plan
