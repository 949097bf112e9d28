"""Statements run on the driver's cursor: a Core statement compiled once per dialect.

SQLAlchemy's execution path (an execution context, parameter and row processing, a
result object) costs two to three times what the driver itself spends on a one-row
statement: about 120-190 µs of CPU against 45-55 µs for the outbox's INSERT on SQLite,
measured here. A login and a send run a dozen such statements, each in a transaction
that holds SQLite's one writer, so the statements of those paths are `Prepared` and
everything else keeps `Connection.execute`.

A prepared statement converts its parameters and its rows with the type processors
SQLAlchemy itself would use, so it reads and writes the same values; driver errors come
back as SQLAlchemy's exceptions (an IntegrityError is still an IntegrityError), and
`before_cursor_execute` listeners see the statement. A
statement that needs more than a fixed SQL string (expanding IN lists, Python-side column
defaults, escaped parameter names) or a dialect with named parameters is run by
`Connection.execute` instead, with the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Select, TextClause, exc, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any] | None
Statement = Select[Any] | UpdateBase | TextClause


@dataclass(frozen=True, slots=True)
class Rows:
    """What a statement returned: its rows as tuples, and how many rows it changed."""

    rows: list[tuple[Any, ...]]
    rowcount: int

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)

    def first(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def scalar_one(self) -> Any:
        if len(self.rows) != 1:
            raise exc.NoResultFound if not self.rows else exc.MultipleResultsFound
        return self.rows[0][0]

    def scalars(self) -> list[Any]:
        return [row[0] for row in self.rows]


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in the order of the placeholders
    defaults: dict[str, Any]  # values bound in the statement itself (literals, .values())
    binds: tuple[Processor, ...]  # one per name
    results: tuple[Processor, ...]  # one per returned column; empty if none is typed


class Prepared:
    """`Prepared(statement)(tx, parameters)` runs the statement in tx's transaction.

    For an INSERT, `keys` names the columns every call supplies (its VALUES clause)."""

    __slots__ = ("_by_dialect", "_key_set", "keys", "statement")

    def __init__(self, statement: Statement, keys: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.keys = list(keys) if keys is not None else None
        self._key_set = frozenset(keys) if keys is not None else None
        self._by_dialect: dict[str, _Compiled | None] = {}

    def __call__(
        self, tx: Session | Connection, parameters: Mapping[str, Any] | None = None
    ) -> Rows:
        connection = tx.connection() if isinstance(tx, Session) else tx
        dialect = connection.dialect
        kind = f"{dialect.name}+{dialect.driver}"
        try:
            compiled = self._by_dialect[kind]
        except KeyError:
            compiled = self._by_dialect[kind] = self._compile(dialect)
        given = parameters or {}
        if self._key_set is not None and self._key_set != given.keys():
            # A value the VALUES clause has no place for would be dropped without a word.
            raise ValueError(f"expected the columns {sorted(self._key_set)}, got {sorted(given)}")
        if compiled is None:
            result = connection.execute(self.statement, dict(given))
            rows = [tuple(row) for row in result] if result.returns_rows else []
            return Rows(rows, result.rowcount)
        values = []
        for name, convert in zip(compiled.names, compiled.binds, strict=True):
            value = given[name] if name in given else compiled.defaults[name]
            values.append(value if convert is None else convert(value))
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        if connection.dispatch.before_cursor_execute:
            # Whoever listens for statements (tracing, the tests' statement counts) sees these.
            connection.dispatch.before_cursor_execute(
                connection, cursor, compiled.sql, values, None, False
            )
        try:
            cursor.execute(compiled.sql, tuple(values))
            fetched: Sequence[Any] = cursor.fetchall() if cursor.description else []
            rowcount = cursor.rowcount
        except dialect.loaded_dbapi.Error as error:
            raise exc.DBAPIError.instance(
                compiled.sql,
                values,
                error,
                dialect.loaded_dbapi.Error,
                hide_parameters=True,  # they hold sealed numbers and texts
                dialect=dialect,
            ) from error
        finally:
            cursor.close()
        if not compiled.results:
            return Rows([tuple(row) for row in fetched], rowcount)
        return Rows(
            [
                tuple(
                    convert(value) if convert is not None else value
                    for convert, value in zip(compiled.results, row, strict=True)
                )
                for row in fetched
            ],
            rowcount,
        )

    def _compile(self, dialect: Dialect) -> _Compiled | None:
        compiled = self.statement.compile(dialect=dialect, column_keys=self.keys)
        if (
            not isinstance(compiled, SQLCompiler)
            or not compiled.positional
            or compiled.positiontup is None
            or compiled.literal_execute_params
            or compiled.post_compile_params
            or compiled.insert_prefetch
            or compiled.update_prefetch
            or compiled.escaped_bind_names
        ):
            return None
        names = tuple(compiled.positiontup)
        binds = compiled.binds
        return _Compiled(
            sql=compiled.string,
            names=names,
            defaults={name: bind.value for name, bind in binds.items() if not bind.required},
            binds=tuple(
                binds[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names
            ),
            results=self._result_processors(dialect),
        )

    def _result_processors(self, dialect: Dialect) -> tuple[Processor, ...]:
        columns = getattr(self.statement, "selected_columns", None)
        if columns is None:
            columns = getattr(self.statement, "exported_columns", None)
        if not columns:
            return ()
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
        )
        return processors if any(p is not None for p in processors) else ()


_SAVEPOINT = Prepared(text("SAVEPOINT smsgw_block"))
_ROLLBACK_TO = Prepared(text("ROLLBACK TO SAVEPOINT smsgw_block"))
_RELEASE = Prepared(text("RELEASE SAVEPOINT smsgw_block"))


@contextmanager
def savepoint(tx: Session) -> Iterator[None]:
    """Undo what the block wrote if it raises, and only that: the rest of the transaction
    (other logins' writes, in a group commit) stands. On the driver, like the statements
    it guards: Session.begin_nested() costs more than the statements inside it."""
    _SAVEPOINT(tx)
    try:
        yield
    except BaseException:
        _ROLLBACK_TO(tx)
        _RELEASE(tx)
        raise
    _RELEASE(tx)
