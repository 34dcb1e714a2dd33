"""Database helpers shared by every app: the money field, after-commit effects, lean updates."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import psycopg
from django.conf import settings
from django.db import connections, models, router, transaction
from django.db.models.base import ModelState

logger = logging.getLogger(__name__)


class MoneyField(models.DecimalField):
    """A decimal with the project-wide precision, exact on every backend.

    SQLite's NUMERIC affinity keeps only 15 significant digits, so there the value is
    stored as text and all arithmetic happens in Python (the services never compare or
    sum money in SQL). PostgreSQL stores ``numeric(36, 18)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", settings.MONEY_MAX_DIGITS)
        kwargs.setdefault("decimal_places", settings.MONEY_DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def get_internal_type(self) -> str:
        # Not "DecimalField": SQLite's backend would parse the stored text as a float.
        return "MoneyField"

    def db_type(self, connection: Any) -> str:
        if connection.vendor == "sqlite":
            return "text"
        return f"numeric({self.max_digits}, {self.decimal_places})"

    def rel_db_type(self, connection: Any) -> str:
        return self.db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        if connection.vendor == "sqlite":
            return format(Decimal(value).quantize(settings.MONEY_QUANTUM), "f")
        return value

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        if isinstance(value, float):
            # Only a SQL aggregate over a text column on SQLite yields a float; the
            # services do not rely on those.
            return Decimal(repr(value))
        return Decimal(value)


def on_commit(func: Callable[[], Any], *, using: str | None = None) -> None:
    """Run a side effect only once the surrounding transaction has committed.

    A failing side effect is logged and never breaks the caller: every effect here
    (wake-ups, pushes, settlement triggers) has a periodic safety net.
    """

    def _run() -> None:
        try:
            func()
        except Exception:  # see docstring
            logger.exception("after-commit effect %r failed", func)

    transaction.on_commit(_run, using=using, robust=False)


def rows_update(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of each object by primary key: one statement, many parameter rows.

    ``QuerySet.bulk_update`` builds a ``CASE WHEN`` expression per field and row in
    Python, which cost the matcher more CPU per batch than matching did. This sends
    one plain ``UPDATE ... WHERE id = %s`` through ``executemany`` (pipelined by
    psycopg 3), with values prepared by the model's own fields. No signals, no
    ``auto_now``: set those fields yourself.
    """
    if not objs:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    sql = (
        f"UPDATE {quote(meta.db_table)} SET "
        + ", ".join(f"{quote(column.column)} = %s" for column in columns)
        + f" WHERE {quote(meta.pk.column)} = %s"
    )
    rows = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns] + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def rows_insert(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Insert plain rows (values already in database form, in ``columns`` order) in one go.

    PostgreSQL gets one ``COPY ... FROM STDIN``: no model instances, no per-row SQL,
    several times cheaper than ``bulk_create`` for thousands of rows. Other backends get
    one ``executemany`` INSERT. Values must be what the column stores (Decimal, str,
    int, aware datetime); no defaults are filled in and no ids are returned (take them
    from ``ids_reserve`` first when the caller needs them).
    """
    if not rows:
        return
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    names = ", ".join(quote(meta.get_field(name).column) for name in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sql = f"COPY {quote(meta.db_table)} ({names}) FROM STDIN"
            started = time.monotonic()
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
            if connection.queries_logged:
                connection.queries_log.append(
                    {"sql": f"{sql} -- {len(rows)} rows", "time": f"{time.monotonic() - started:.3f}"}
                )
            return
        fields = [meta.get_field(name) for name in columns]
        prepared = [[f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True)] for row in rows]
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {quote(meta.db_table)} ({names}) VALUES ({placeholders})", prepared)


def rows_insert_text(model: type[models.Model], columns: Sequence[str], text: str, count: int) -> bool:
    """Insert ``count`` rows already formatted as COPY text lines (PostgreSQL); False if not done.

    For the hottest callers: one f-string per row is several times cheaper than
    ``rows_insert``'s per-value formatting. Values must be what psycopg's text dumpers
    would write (``str`` of ints and Decimals, ``isoformat()`` of aware datetimes), tab
    separated, one line per row. Nothing is written, and False returned, when ``text``
    could be misread: a backslash, a carriage return, a tab or newline count that does
    not match, or ``None`` (the caller then uses ``rows_insert``). Other backends: False.
    """
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        return False
    if (
        text.count("\n") != count
        or text.count("\t") != count * (len(columns) - 1)
        or "\\" in text
        or "\r" in text
        or "None" in text
    ):
        return False
    meta = model._meta
    quote = connection.ops.quote_name
    names = ", ".join(quote(meta.get_field(name).column) for name in columns)
    sql = f"COPY {quote(meta.db_table)} ({names}) FROM STDIN"
    started = time.monotonic()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write(text)
    if connection.queries_logged:
        connection.queries_log.append({"sql": f"{sql} -- {count} rows", "time": f"{time.monotonic() - started:.3f}"})
    return True


def values_rows(queryset: models.QuerySet) -> list[tuple]:
    """``list(queryset)`` of a ``values_list`` queryset, read lean on PostgreSQL.

    The ORM's row iterator costs more than the rows: per-row converter calls, and
    timestamps parsed from text in Python. On PostgreSQL this runs the queryset's own
    SQL on a binary cursor of the same connection and transaction (numbers and
    timestamps decoded in C). Only for columns without a converter there: integers,
    text, money and other decimals, timestamps (checked; anything else falls back to
    the ORM), e.g. no JSON.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return list(queryset)
    compiler = queryset.query.get_compiler(queryset.db)
    sql, params = compiler.as_sql()
    converters = compiler.get_converters([col for col, _, _ in compiler.select])
    if any(
        getattr(converter, "__func__", None) is not MoneyField.from_db_value
        for functions, _ in converters.values()
        for converter in functions
    ):
        return list(queryset)
    return _binary_rows(connection, sql, params)


def _binary_rows(connection: Any, sql: str, params: Sequence[Any]) -> list[tuple]:
    """Run ``sql`` on a binary cursor of Django's connection (same transaction); rows as tuples.

    psycopg's C loaders decode numbers and timestamps, where Django's row iterator parses
    them in Python. Django's error wrapper stays around it, so a broken connection is
    still closed by ``close_old_connections()``; logged like Django's own queries.
    """
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as raw:
        raw.execute(sql, params, binary=True)
        rows = raw.fetchall()
    if connection.queries_logged:
        connection.queries_log.append({"sql": f"{sql} -- {params}", "time": f"{time.monotonic() - started:.3f}"})
    return rows


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """Take ``count`` primary keys from the table's sequence (PostgreSQL), for ``rows_insert``.

    On other backends the ids continue from the current maximum; that is only safe for
    a single writer of the table (the matcher is the only writer of trades).
    """
    if count <= 0:
        return []
    meta = model._meta
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [meta.db_table, meta.pk.column, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX({quote(meta.pk.column)}), 0) FROM {quote(meta.db_table)}")
        start = cursor.fetchone()[0] + 1
    return list(range(start, start + count))


def rows_update_values(model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Like ``rows_update`` for plain rows ``(*values, pk)``: one statement on PostgreSQL.

    PostgreSQL gets one ``UPDATE ... FROM unnest(arrays)``, which costs the server one
    plan and one executor run instead of one per row. Values must be in database form
    (what ``rows_insert`` takes). Other backends get one ``executemany`` UPDATE.
    """
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    pk = quote(meta.pk.column)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            prepared = [
                [c.get_db_prep_save(v, connection) for c, v in zip(columns, row[:-1], strict=True)] + [row[-1]]
                for row in rows
            ]
            sql = f"UPDATE {table} SET " + ", ".join(f"{quote(c.column)} = %s" for c in columns) + f" WHERE {pk} = %s"
            cursor.executemany(sql, prepared)
            return
        names = [f"v{i}" for i in range(len(columns))]
        arrays = ", ".join(f"%b::{c.db_type(connection)}[]" for c in columns)
        sql = (
            f"UPDATE {table} SET "
            + ", ".join(f"{quote(c.column)} = v.{n}" for c, n in zip(columns, names, strict=True))
            + f" FROM unnest({arrays}, %b::{meta.pk.rel_db_type(connection)}[]) AS v({', '.join(names)}, pk)"
            + f" WHERE {table}.{pk} = v.pk"
        )
        params = [list(col) for col in zip(*rows, strict=True)]
        # Django's cursors bind client-side, quoting every array element in Python (a
        # regex per value); a server-side cursor on the same connection and transaction
        # sends the arrays in binary, four times cheaper.
        started = time.monotonic()
        with psycopg.Cursor(connection.connection) as raw:
            raw.execute(sql, params)
        if connection.queries_logged:
            connection.queries_log.append(
                {"sql": f"{sql} -- {len(rows)} rows", "time": f"{time.monotonic() - started:.3f}"}
            )


class RowsQuery:
    """A ``values_list`` queryset run many times: compiled once, read in binary on PostgreSQL.

    Django compiles the SQL on every run, reads timestamps as text through a Python
    loader and runs a converter per money value: the matcher's per-batch reads cost
    more than matching the orders they brought. This keeps the compiled statement and
    reads it through a server-side-bound cursor on the same connection (and
    transaction), with psycopg's C binary loaders. Only for columns whose Django
    converters change nothing on PostgreSQL (money, timestamps with ``USE_TZ``, text,
    integers, booleans): a test compares both reads. Other backends run the queryset.
    """

    def __init__(self, queryset: models.QuerySet) -> None:
        self.queryset = queryset
        self._compiled: tuple[str, tuple] | None = None

    def fetch(self) -> list[tuple]:
        connection = connections[self.queryset.db]
        if connection.vendor != "postgresql":
            return [tuple(row) for row in self.queryset.all()]
        if self._compiled is None:
            self._compiled = self.queryset.query.sql_with_params()
        sql, params = self._compiled
        return _binary_rows(connection, sql, params)


def model_from_row(model: type[models.Model], attnames: Sequence[str], row: Sequence[Any], *, db: str = "default"):
    """A saved instance of ``model`` from a full row of ``attnames`` values, without ``__init__``.

    ``Model.__init__`` costs the matcher more than matching an order (a descriptor call
    per foreign key, signals). This is what ``from_db`` produces for a row read with
    ``values_list(*attnames)``: plain attributes, ``_state`` saved in ``db``. Only for
    models without ``pre_init``/``post_init`` receivers (no generic relations, no image
    fields), and ``attnames`` must name every concrete field.
    """
    obj = model.__new__(model)
    obj.__dict__.update(zip(attnames, row, strict=True))
    state = obj._state = ModelState()
    state.adding = False
    state.db = db
    return obj
