"""The shop's operational store: one table of hourly sales in the shop's own database.

Pure module (no Dagster import): the `synthetic_sales` asset writes through it, the shop API
reads through it, and the tests and benchmark reuse both. The primary key is
(timestamp, product_id), which is also the order the API pages in, so every page is one
index range scan.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.warehouse.io import replace_window

SCHEMA = "public"
TABLE = "shop_sales"
COLUMNS = list(RECORD_FIELDS)

_SQL_TYPES = {
    "timestamp": "timestamptz",
    "text": "text",
    "float": "double precision",
    "integer": "integer",
}

STORE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{TABLE} (\n"
    + ",\n".join(
        f'    "{name}" {_SQL_TYPES[kind]} NOT NULL' for name, kind in RECORD_FIELDS.items()
    )
    + ',\n    PRIMARY KEY ("timestamp", product_id)\n);\n'
)


def ensure_store(conn: PgConnection) -> None:
    """Create the store's table if missing (idempotent; concurrent callers are serialized)."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('shop_store:ddl', 0))")
        cur.execute(STORE_DDL)


def write_window(conn: PgConnection, df: pd.DataFrame, start: datetime, end: datetime) -> int:
    """Replace the store's rows in [start, end) with `df`, in one transaction."""
    outside = (df["timestamp"] < start) | (df["timestamp"] >= end)
    if outside.any():
        raise ValueError(f"{int(outside.sum())} rows fall outside the window {start} .. {end}")
    return replace_window(conn, TABLE, df[COLUMNS], start, end, schema=SCHEMA)


# --- keyset paging -------------------------------------------------------------------------


class CursorError(ValueError):
    """A cursor that this API did not issue (or that was altered)."""


def encode_cursor(timestamp: datetime, product_id: str) -> str:
    """Opaque page cursor: URL-safe base64 of the last key served."""
    raw = json.dumps([timestamp.astimezone(UTC).isoformat(), product_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        ts, product_id = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
        parsed = datetime.fromisoformat(ts)
        if parsed.tzinfo is None or not isinstance(product_id, str):
            raise ValueError
        return parsed, product_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise CursorError("cursor is not one this API issued; pass next_cursor unchanged") from None


def page_query(after: bool) -> sql.Composed:
    """Keyset page over (timestamp, product_id) within [start, end): uses the primary key."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
    where = sql.SQL('"timestamp" >= %(start)s AND "timestamp" < %(end)s')
    if after:
        where += sql.SQL(' AND ("timestamp", product_id) > (%(after_ts)s, %(after_id)s)')
    return sql.SQL(
        'SELECT {cols} FROM {table} WHERE {where} ORDER BY "timestamp", product_id LIMIT %(limit)s'
    ).format(cols=cols, table=sql.Identifier(SCHEMA, TABLE), where=where)


def fetch_page(
    conn: PgConnection,
    start: datetime,
    end: datetime,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of records and the cursor of the next page (None after the last)."""
    params: dict[str, Any] = {"start": start, "end": end, "limit": limit + 1}
    if cursor:
        params["after_ts"], params["after_id"] = decode_cursor(cursor)
    with conn.cursor() as cur:
        cur.execute(page_query(after=bool(cursor)), params)
        rows = cur.fetchall()
    conn.rollback()  # end the read transaction; the connection goes back to the pool clean
    more = len(rows) > limit
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows[:limit]]
    next_cursor = None
    if more:
        last = records[-1]
        next_cursor = encode_cursor(last["timestamp"], last["product_id"])
    return records, next_cursor


def read_window(conn: PgConnection, start: datetime, end: datetime) -> pd.DataFrame:
    """Every stored row of [start, end), in key order (for tests and the benchmark)."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in COLUMNS)
    query = sql.SQL(
        'SELECT {cols} FROM {table} WHERE "timestamp" >= %s AND "timestamp" < %s '
        'ORDER BY "timestamp", product_id'
    ).format(cols=cols, table=sql.Identifier(SCHEMA, TABLE))
    with conn.cursor() as cur:
        cur.execute(query, (start, end))
        rows = cur.fetchall()
    conn.rollback()
    return pd.DataFrame(rows, columns=COLUMNS)
