"""Fast, idempotent writes into PostgreSQL: COPY, and per-window replace in one transaction."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

if TYPE_CHECKING:
    import pandas as pd  # only annotations and one dtype test: lock_key's callers need no pandas


def copy_dataframe(conn: PgConnection, table: str, df: pd.DataFrame, schema: str = "public") -> int:
    """COPY a frame into an existing table (columns by name). Returns the row count.

    Text columns without missing values are sent with FORCE_NOT_NULL, so a value that reads like
    the NULL marker (a product named `\\N`) stays text instead of becoming NULL.
    """
    if df.empty:
        return 0
    buf = io.StringIO()
    df.to_csv(buf, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%dT%H:%M:%S%z")
    buf.seek(0)
    options = sql.SQL("FORMAT csv, NULL '\\N'")
    if text := _text_columns_without_nulls(df):
        options += sql.SQL(", FORCE_NOT_NULL ({})").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in text)
        )
    stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN WITH ({})").format(
        sql.Identifier(schema),
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in df.columns),
        options,
    )
    with conn.cursor() as cur:
        cur.copy_expert(stmt.as_string(conn), buf)
    return len(df)


def _text_columns_without_nulls(df: pd.DataFrame) -> list[str]:
    """Object/string columns with no missing value; refuses a column mixing NULLs and `\\N`."""
    from pandas.api.types import is_string_dtype

    out = []
    for column in df.columns:
        values = df[column]
        if values.dtype != object and not is_string_dtype(values.dtype):
            continue
        missing = values.isna()
        if not missing.any():
            out.append(column)
        elif (values[~missing] == "\\N").any():
            raise ValueError(
                f"column {column} holds both missing values and the text \\N, which COPY "
                "cannot tell apart"
            )
    return out


def lock_key(conn: PgConnection, *parts: str) -> None:
    """Serialize writers of the same key (e.g. table and partition) until the transaction ends."""
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (":".join(parts),))


def replace_window(
    conn: PgConnection,
    table: str,
    df: pd.DataFrame,
    start: datetime,
    end: datetime,
    *,
    ts_column: str = "timestamp",
    schema: str = "public",
    extra_filter: Sequence[tuple[str, object]] = (),
) -> int:
    """Delete [start, end) and COPY `df` in its place, in one transaction.

    Idempotent per window, and safe when two runs write the same window at once: an advisory
    lock on (table, window) serializes them, so exactly one set of rows remains.
    """
    where = [
        sql.SQL("{} >= %s AND {} < %s").format(sql.Identifier(ts_column), sql.Identifier(ts_column))
    ]
    params: list[object] = [start, end]
    for column, value in extra_filter:
        where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
        params.append(value)
    with conn:  # commit on success, roll back on any error
        lock_key(conn, schema, table, start.isoformat(), end.isoformat())
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DELETE FROM {}.{} WHERE ").format(
                    sql.Identifier(schema), sql.Identifier(table)
                )
                + sql.SQL(" AND ").join(where),
                params,
            )
        return copy_dataframe(conn, table, df, schema=schema)
