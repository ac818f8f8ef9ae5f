"""Many rows in one INSERT (or UPDATE … FROM) without one placeholder per value: the ingest's bulk statements.

On PostgreSQL the rows go as one JSON parameter, `SELECT (r->>0)::uuid, … FROM json_array_elements(%s::json) r`:
a statement has one parameter whatever the number of rows, made by the C JSON encoder. With a placeholder per
value psycopg split and quoted a query of thousands of them for every batch in Python (most of the group
commit's CPU), and with one array per column it still dumped each element in Python.
Elsewhere (SQLite) a plain `VALUES (…), (…)` with a placeholder per value.

execute() sends them with server-side binding on PostgreSQL (psycopg's own Cursor on Django's connection, in
its transaction): the parameter is not quoted into the query text by the client-side cursor Django uses.
"""

import json
import time

from django.db import connection


def source(model, columns, rows) -> tuple[str, list]:
    """(SQL of a row source, its parameters) for `rows` (tuples of database values in `columns` order)."""
    fields = [model._meta.get_field(name) for name in columns]
    if connection.vendor == "postgresql":
        values = ", ".join(f"(r->>{index})::{field.db_type(connection)}" for index, field in enumerate(fields))
        # Only the model's own column types are formatted in; the rows are one parameter.
        return f"SELECT {values} FROM json_array_elements(%s::json) AS r", [dumps(rows)]  # noqa: S608
    values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    return f"VALUES {values}", [value for row in rows for value in row]


def dumps(value) -> str:
    """JSON of rows or states: UUIDs and datetimes as text (PostgreSQL casts them back)."""
    return json.dumps(value, default=str, separators=(",", ":"))


def columns_sql(model, columns) -> str:
    return ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in columns)


def execute(sql: str, params: list) -> None:
    """Run a statement of source()'s rows in the current transaction (server-side binding on PostgreSQL)."""
    if connection.vendor == "postgresql":
        import psycopg  # only with PostgreSQL (embedded defaults run SQLite)

        connection.ensure_connection()
        started = time.monotonic()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=False)
        if connection.queries_logged:  # DEBUG and the tests' query counts see it, as a Django cursor's
            connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
