"""The Airbyte landing table `airbyte_raw.sales`, and how `public.sales` is rebuilt from it.

Pure (no Dagster). The landing table has the shape Airbyte's Postgres destination gives a stream:
the stream's typed columns (nullable) plus `_airbyte_raw_id`, `_airbyte_extracted_at` and
`_airbyte_meta`. Both sync modes land there (PyAirbyte through our COPY, an Airbyte server through
its destination), so `window_query` works on either, whatever numeric types the destination chose.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.warehouse.io import lock_key, replace_window
from profiteer_pipeline.warehouse.schema import RAW_SCHEMA, SALES_DDL

if TYPE_CHECKING:
    import pandas as pd  # imported where a window is built: the code location loads without it

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


class IncompleteSync(ValueError):
    """The landed rows lack fields; `problems` names each field and the products concerned."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the synced rows are incomplete:\n" + "\n".join(problems))


def null_problems(frame: pd.DataFrame) -> list[str]:
    """One line per field with missing values, naming the products."""
    problems = []
    for column in frame.columns[frame.isna().any()]:
        products = sorted(frame.loc[frame[column].isna(), "product_id"].astype(str).unique())
        problems.append(f"field {column} is missing for product(s) {', '.join(products[:10])}")
    return problems


def build_sales_window(conn: PgConnection, start: datetime, end: datetime) -> pd.DataFrame:
    """Rebuild `public.sales` for [start, end) from the landing table; returns the rows written.

    Typed and deduplicated by `window_query`, checked for missing fields (IncompleteSync, nothing
    written), then written with `replace_window`: one transaction, idempotent per window.
    Raises LookupError when the landing table does not exist yet.
    """
    import pandas as pd

    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('warehouse:sales:ddl', 0))")
        cur.execute(SALES_DDL)
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{RAW_SCHEMA}.{RAW_TABLE}",))
        if not cur.fetchone()[0]:
            raise LookupError(f"{RAW_SCHEMA}.{RAW_TABLE} does not exist yet: no sync has landed")
        cur.execute(window_query(), {"start": start, "end": end})
        frame = pd.DataFrame(cur.fetchall(), columns=list(RECORD_FIELDS))
    if frame.empty:
        return frame
    if problems := null_problems(frame):
        raise IncompleteSync(problems)
    replace_window(conn, "sales", frame, start, end)
    return frame


def ensure_raw_table(conn) -> None:
    """Create airbyte_raw.sales if missing; concurrent first runs are serialized."""
    with conn:
        lock_key(conn, RAW_SCHEMA, "ddl")
        with conn.cursor() as cur:
            cur.execute(RAW_SALES_DDL)


def count_window(conn, start: datetime, end: datetime) -> int:
    with conn, conn.cursor() as cur:
        cur.execute(window_count_query(), {"start": start, "end": end})
        return int(cur.fetchone()[0])
