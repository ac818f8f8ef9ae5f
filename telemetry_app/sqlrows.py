"""Many rows in one INSERT (or UPDATE … FROM) without one placeholder per value: the ingest's bulk statements.

On PostgreSQL the rows go as one array per column, `SELECT * FROM unnest(%s::uuid[], %s::text[], …)`: a
statement has as many parameters as columns whatever the number of rows, so psycopg neither splits nor
converts a query of thousands of placeholders for every batch (that was most of the group commit's CPU).
Elsewhere (SQLite) a plain `VALUES (…), (…)` with a placeholder per value.
"""

from django.db import connection


def source(model, columns, rows) -> tuple[str, list]:
    """(SQL of a row source, its parameters) for `rows` (tuples of database values in `columns` order)."""
    fields = [model._meta.get_field(name) for name in columns]
    if connection.vendor == "postgresql":
        arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
        # Only the model's own column types are formatted in; every value is a parameter.
        return f"SELECT * FROM unnest({arrays})", [list(column) for column in zip(*rows, strict=True)]  # noqa: S608
    values = ", ".join(["(" + ", ".join(["%s"] * len(fields)) + ")"] * len(rows))
    return f"VALUES {values}", [value for row in rows for value in row]


def columns_sql(model, columns) -> str:
    return ", ".join(connection.ops.quote_name(model._meta.get_field(name).column) for name in columns)
