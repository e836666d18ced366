"""The warehouse side of an import, written in one transaction (all of it, or nothing).

- `imports_raw.order_lines`: what Airbyte's File source emitted, one row per record, in
  Airbyte's raw-table shape (`_airbyte_raw_id`, `_airbyte_extracted_at`, `_airbyte_meta`,
  `_airbyte_data` jsonb) plus the import's name and the record's line; replaced per import.
- `imports_raw.imports`: one row per import (file, content hash, layout, the summary).
- schema `import_<name>`: `order_lines` (accepted lines: sales and returns), `quarantine` (each
  rejected line with its reason), `sales` (product-hours) and `products`. Imports never share a
  table with each other or with the simulated shop, so product ids cannot mix.
"""

from __future__ import annotations

import io
import json
import time
from datetime import datetime

import numpy as np
import pandas as pd
from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.imports.names import schema_name
from profiteer_pipeline.warehouse.io import copy_dataframe, lock_key

RAW_SCHEMA = "imports_raw"
RAW_TABLE = "order_lines"
IMPORTS_TABLE = "imports"

RAW_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA};
CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{RAW_TABLE} (
    import_name text NOT NULL,
    line bigint NOT NULL,
    _airbyte_raw_id uuid NOT NULL DEFAULT gen_random_uuid(),
    _airbyte_extracted_at timestamptz NOT NULL,
    _airbyte_meta jsonb NOT NULL DEFAULT '{{"changes": []}}',
    _airbyte_data jsonb NOT NULL,
    PRIMARY KEY (import_name, line)
);
CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{IMPORTS_TABLE} (
    name text PRIMARY KEY,
    file_name text NOT NULL,
    sha256 text NOT NULL,
    format text NOT NULL,
    layout text NOT NULL,
    connector text NOT NULL,
    imported_at timestamptz NOT NULL DEFAULT now(),
    summary jsonb NOT NULL
);
"""

# table -> column DDL (the per-import schema)
IMPORT_TABLES: dict[str, str] = {
    "order_lines": """
        line bigint NOT NULL,
        ordered_at timestamptz NOT NULL,
        hour timestamptz NOT NULL,
        product_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('sale', 'return')),
        quantity numeric(18, 3) NOT NULL,
        unit_price numeric(18, 4) NOT NULL,
        revenue numeric(18, 4) NOT NULL,
        product_name text,
        category text,
        order_id text,
        customer_id text,
        country text,
        views double precision,
        cart_adds double precision""",
    "quarantine": """
        line bigint NOT NULL,
        reason text NOT NULL,
        "column" text,
        value text""",
    "sales": """
        product_id text NOT NULL,
        "timestamp" timestamptz NOT NULL,
        units numeric(18, 3) NOT NULL,
        revenue numeric(18, 4) NOT NULL,
        orders integer NOT NULL,
        lines integer NOT NULL,
        avg_price numeric(18, 4),
        returned_units numeric(18, 3) NOT NULL,
        returned_revenue numeric(18, 4) NOT NULL,
        views double precision,
        cart_adds double precision""",
    "products": """
        product_id text NOT NULL,
        product_name text,
        category text,
        base_price numeric(18, 4) NOT NULL,
        min_price numeric(18, 4) NOT NULL,
        max_price numeric(18, 4) NOT NULL,
        units numeric(18, 3) NOT NULL,
        revenue numeric(18, 4) NOT NULL,
        lines integer NOT NULL,
        first_hour timestamptz NOT NULL,
        last_hour timestamptz NOT NULL""",
}

# each table's key, added after the COPY (building an index once is faster than maintaining it)
PRIMARY_KEYS = {
    "order_lines": ("line",),
    "quarantine": ("line",),
    "sales": ("product_id", "timestamp"),
    "products": ("product_id",),
}


def _as_copy_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as ISO text in C (pandas' per-value date formatting is the slow part of COPY)."""
    out = frame.copy(deep=False)
    for column in frame.columns:
        values = frame[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            naive = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
            text = np.char.add(np.datetime_as_string(naive, unit="s"), "+00:00").astype(object)
            text[pd.isna(naive)] = None
            out[column] = text
    return out


def ensure_raw(conn: PgConnection) -> None:
    with conn.cursor() as cur:
        cur.execute(RAW_DDL)


def previous(conn: PgConnection, name: str) -> dict | None:
    """The stored import of this name (sha256, summary...), or None."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{RAW_SCHEMA}.{IMPORTS_TABLE}",))
        if cur.fetchone()[0] is None:
            return None
        cur.execute(
            sql.SQL(
                "SELECT name, file_name, sha256, format, layout, connector, imported_at, summary "
                "FROM {}.{} WHERE name = %s"
            ).format(sql.Identifier(RAW_SCHEMA), sql.Identifier(IMPORTS_TABLE)),
            (name,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        keys = ("name", "file_name", "sha256", "format", "layout", "connector", "imported_at")
        return dict(zip(keys, row[:7], strict=True)) | {"summary": row[7]}


def _copy_raw(
    conn: PgConnection, name: str, lines: list[int] | range, data_json: list[str], at: datetime
) -> int:
    """COPY the raw records (text format; the JSON's backslashes escaped for COPY)."""
    stamp = at.isoformat()
    prefix = f"{name}\t"
    body = "".join(
        f"{prefix}{line}\t{stamp}\t{data.replace(chr(92), chr(92) * 2)}\n"
        for line, data in zip(lines, data_json, strict=True)
    )
    stmt = sql.SQL(
        "COPY {}.{} (import_name, line, _airbyte_extracted_at, _airbyte_data) FROM STDIN"
    ).format(sql.Identifier(RAW_SCHEMA), sql.Identifier(RAW_TABLE))
    with conn.cursor() as cur:
        cur.copy_expert(stmt.as_string(conn), io.StringIO(body))
    return len(data_json)


def write_import(
    conn: PgConnection,
    *,
    name: str,
    record: dict,
    raw_lines: list[int] | range,
    raw_json: list[str],
    extracted_at: datetime,
    frames: dict[str, pd.DataFrame],
    timings: dict[str, float] | None = None,
) -> dict[str, int]:
    """Replace the import's raw rows and its schema's tables, in one transaction.

    `record` is the imports row (file_name, sha256, format, layout, connector, summary);
    `frames` maps each of IMPORT_TABLES to its rows. Returns rows written per table; `timings`
    (if given) receives each part's seconds.
    """
    clock = time.monotonic()

    def lap(part: str) -> None:
        nonlocal clock
        if timings is not None:
            timings[part] = time.monotonic() - clock
        clock = time.monotonic()

    schema = schema_name(name)
    written: dict[str, int] = {}
    with conn:  # commit on success, roll back on any error: a failed import writes nothing
        ensure_raw(conn)
        lock_key(conn, RAW_SCHEMA, "import", name)
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DELETE FROM {}.{} WHERE import_name = %s").format(
                    sql.Identifier(RAW_SCHEMA), sql.Identifier(RAW_TABLE)
                ),
                (name,),
            )
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            for table, columns in IMPORT_TABLES.items():
                ident = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
                cur.execute(sql.SQL("CREATE TABLE {} (" + columns + ")").format(ident))
        lap("write_replace")
        written["raw"] = _copy_raw(conn, name, raw_lines, raw_json, extracted_at)
        lap("write_raw")
        for table in IMPORT_TABLES:
            written[table] = copy_dataframe(
                conn, table, _as_copy_text(frames[table]), schema=schema
            )
            lap(f"write_{table}")
        with conn.cursor() as cur:
            for table, key in PRIMARY_KEYS.items():
                cur.execute(
                    sql.SQL("ALTER TABLE {}.{} ADD PRIMARY KEY ({})").format(
                        sql.Identifier(schema),
                        sql.Identifier(table),
                        sql.SQL(", ").join(map(sql.Identifier, key)),
                    )
                )
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL(
                    "INSERT INTO {}.{} (name, file_name, sha256, format, layout, connector, summary)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET"
                    " file_name = EXCLUDED.file_name, sha256 = EXCLUDED.sha256,"
                    " format = EXCLUDED.format, layout = EXCLUDED.layout,"
                    " connector = EXCLUDED.connector, imported_at = now(),"
                    " summary = EXCLUDED.summary"
                ).format(sql.Identifier(RAW_SCHEMA), sql.Identifier(IMPORTS_TABLE)),
                (
                    name,
                    record["file_name"],
                    record["sha256"],
                    record["format"],
                    record["layout"],
                    record["connector"],
                    json.dumps(record["summary"], default=str),
                ),
            )
        lap("write_keys")
    lap("write_commit")
    return written
