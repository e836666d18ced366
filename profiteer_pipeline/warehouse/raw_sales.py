"""SQL of the Airbyte landing table `airbyte_raw.sales`, and the query that types and dedups it.

Pure (no Dagster). The landing table has the shape Airbyte's Postgres destination gives a stream:
the stream's typed columns (nullable) plus `_airbyte_raw_id`, `_airbyte_extracted_at` and
`_airbyte_meta`. Both sync modes land there (PyAirbyte through our COPY, an Airbyte server through
its destination), so `window_query` works on either, whatever numeric types the destination chose.
"""

from __future__ import annotations

from psycopg2 import sql

from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.warehouse.schema import RAW_SCHEMA

RAW_TABLE = "sales"
AIRBYTE_COLUMNS = ["_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta"]
RAW_COLUMNS = [*RECORD_FIELDS, *AIRBYTE_COLUMNS]

_SQL_TYPES = {
    "timestamp": "timestamptz",
    "text": "text",
    "float": "double precision",
    "integer": "integer",
}

RAW_SALES_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA};\n"
    f"CREATE TABLE IF NOT EXISTS {RAW_SCHEMA}.{RAW_TABLE} (\n"
    + "".join(f'    "{name}" {_SQL_TYPES[kind]},\n' for name, kind in RECORD_FIELDS.items())
    + "    _airbyte_raw_id text NOT NULL,\n"
    + "    _airbyte_extracted_at timestamptz NOT NULL,\n"
    + "    _airbyte_meta jsonb NOT NULL DEFAULT '{}'::jsonb\n"
    + ");\n"
    + f'CREATE INDEX IF NOT EXISTS raw_sales_timestamp_idx ON {RAW_SCHEMA}.{RAW_TABLE} ("timestamp");\n'
)


def window_query() -> sql.Composed:
    """The window [%(start)s, %(end)s) of the landing table as `sales` rows.

    Typed to the warehouse's types, one row per (timestamp, product_id): the latest extraction
    wins, so append-mode syncs (an Airbyte server's) never duplicate a sale.
    """
    columns = sql.SQL(", ").join(
        sql.SQL("{}::{} AS {}").format(
            sql.Identifier(name), sql.SQL(_SQL_TYPES[kind]), sql.Identifier(name)
        )
        for name, kind in RECORD_FIELDS.items()
    )
    return sql.SQL(
        'SELECT DISTINCT ON ("timestamp", product_id) {columns} FROM {table} '
        'WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s '
        'ORDER BY "timestamp", product_id, _airbyte_extracted_at DESC, _airbyte_raw_id DESC'
    ).format(columns=columns, table=sql.Identifier(RAW_SCHEMA, RAW_TABLE))


def window_count_query() -> sql.Composed:
    return sql.SQL(
        'SELECT count(*) FROM {} WHERE "timestamp" >= %(start)s AND "timestamp" < %(end)s'
    ).format(sql.Identifier(RAW_SCHEMA, RAW_TABLE))
