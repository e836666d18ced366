"""The warehouse side of an import, written in one transaction (all of it, or nothing).

- `imports_raw.order_lines`: what Airbyte's File source emitted, one row per record, in
  Airbyte's raw-table shape (`_airbyte_raw_id`, `_airbyte_extracted_at`, `_airbyte_meta`,
  `_airbyte_data` jsonb) plus the import's name and the record's line; replaced per import.
- `imports_raw.imports`: one row per import (file, content hash, layout, the summary).
- schema `import_<name>`: `order_lines` (accepted lines: sales and returns), `quarantine` (each
  rejected line with its reason), `sales` (product-hours), `daily` (product-days, what the app's
  dashboard reads) and `products`. Imports never share a table with each other or with the
  simulated shop, so product ids cannot mix.

Access (`ImportAccess`), by the rule every source's schema follows (`warehouse.grants`): the
app's reader gets the import's schema, every table in it (those the model writes later too,
through default privileges) and `imports_raw.imports`, its list; the model's login gets the
schema and only the tables named for it. Roles the server does not have (an external server
without the stack's logins) are skipped.
"""

from __future__ import annotations

import io
import json
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.sources.files.names import schema_name
from profiteer_pipeline.warehouse import grants
from profiteer_pipeline.warehouse.io import lock_key

if TYPE_CHECKING:
    import pandas as pd

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
        cart_adds double precision,
        unit_cost numeric(18, 4)""",
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
    "daily": """
        product_id text NOT NULL,
        day date NOT NULL,
        units numeric(18, 3) NOT NULL,
        revenue numeric(18, 4) NOT NULL,
        orders integer NOT NULL,
        returned_units numeric(18, 3) NOT NULL""",
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
    "daily": ("product_id", "day"),
    "products": ("product_id",),
}


def copy_arrow(conn: PgConnection, schema: str, table: str, frame: pd.DataFrame) -> int:
    """COPY a frame through Arrow's CSV writer (C++, about five times pandas' `to_csv` here).

    Missing values are written as unquoted empty fields, which COPY reads as NULL; the import's
    text columns hold no empty strings (`as_text` makes them missing). Timestamps go as UTC
    seconds (`2010-12-01 08:00:00Z`).
    """
    if frame.empty:
        return 0
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    for i, field in enumerate(arrow.schema):
        if pa.types.is_timestamp(field.type):
            column = arrow.column(i).cast(pa.timestamp("s", tz="UTC"), safe=False)
            arrow = arrow.set_column(i, field.name, column)
    buffer = io.BytesIO()
    pa_csv.write_csv(arrow, buffer, pa_csv.WriteOptions(include_header=False))
    buffer.seek(0)
    stmt = sql.SQL("COPY {}.{} ({}) FROM STDIN WITH (FORMAT csv)").format(
        sql.Identifier(schema),
        sql.Identifier(table),
        sql.SQL(", ").join(sql.Identifier(c) for c in frame.columns),
    )
    with conn.cursor() as cur:
        cur.copy_expert(stmt.as_string(conn), buffer)
    return len(frame)


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


def begin(conn: PgConnection, name: str) -> None:
    """Start replacing an import, inside the caller's transaction: the import's name is locked
    (one writer per name), its previous raw rows are deleted. `ensure_raw` must have committed
    before: an uncommitted `imports_raw` schema would block the Airbyte server's destination,
    which lands into it while this transaction waits for the sync."""
    lock_key(conn, RAW_SCHEMA, "import", name)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("DELETE FROM {}.{} WHERE import_name = %s").format(
                sql.Identifier(RAW_SCHEMA), sql.Identifier(RAW_TABLE)
            ),
            (name,),
        )


class RawCopy:
    """COPY into the raw table from a background thread, fed batch by batch while the connector
    still reads (PostgreSQL parses the JSON in its own process meanwhile). Use it inside the
    caller's transaction; the connection is the thread's until `close`."""

    def __init__(self, conn: PgConnection, name: str, first_line: int, extracted_at: datetime):
        self.name = name
        self.next_line = first_line
        self.stamp = extracted_at.isoformat()
        self.rows = 0
        self._chunks: queue.Queue[str | None] = queue.Queue(maxsize=8)
        self._pending = ""
        self._error: BaseException | None = None
        stmt = sql.SQL(
            "COPY {}.{} (import_name, line, _airbyte_extracted_at, _airbyte_data) FROM STDIN"
        ).format(sql.Identifier(RAW_SCHEMA), sql.Identifier(RAW_TABLE))
        self._statement = stmt.as_string(conn)
        self._conn = conn
        self._thread = threading.Thread(target=self._run, name="raw-copy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with self._conn.cursor() as cur:
                cur.copy_expert(self._statement, self, size=1 << 20)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller in close()
            self._error = exc

    def _put(self, item: str | None) -> None:
        while self._thread.is_alive():  # a COPY that failed reads no more: do not block on it
            try:
                self._chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1) -> str:  # the file-like side psycopg2 reads from
        chunk = self._chunks.get()
        return "" if chunk is None else chunk

    def write(self, data_json: list[str]) -> None:
        """One batch of records' JSON, in file order (line numbers follow on)."""
        if self._error is not None:
            return
        first, prefix, stamp = self.next_line, f"{self.name}\t", self.stamp
        text = "".join(
            f"{prefix}{first + i}\t{stamp}\t{data.replace(chr(92), chr(92) * 2)}\n"
            for i, data in enumerate(data_json)
        )
        self.next_line += len(data_json)
        self.rows += len(data_json)
        self._put(text)

    def close(self) -> int:
        """End the COPY; the rows written (raises what the COPY raised)."""
        self._put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.rows

    def abort(self) -> None:
        """Stop feeding (the caller rolls the transaction back)."""
        self._put(None)
        self._thread.join()


@dataclass(frozen=True)
class ImportAccess:
    """Who reads an import besides the pipeline: the app's reader and MindsDB's login."""

    readers: Sequence[str] = ()
    model: str | None = None


PIPELINE_ONLY = ImportAccess()  # nobody else: a bare server, or a test


def grant_access(conn: PgConnection, schema: str, access: ImportAccess) -> None:
    """The import's schema by the one rule of every source (`warehouse.grants`), and the list
    of imports to the readers; in the caller's transaction."""
    with conn.cursor() as cur:
        grants.grant_schema(cur, schema, readers=access.readers, model=access.model)
        grants.grant_tables(cur, [f"{RAW_SCHEMA}.{IMPORTS_TABLE}"], access.readers)


def drop_tables(conn: PgConnection, schema: str, names: Sequence[str]) -> None:
    """Drop these tables of the import if they exist, in the caller's transaction."""
    with conn.cursor() as cur:
        for table in names:
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, table)))


def write_tables(
    conn: PgConnection,
    *,
    name: str,
    record: dict,
    frames: dict[str, pd.DataFrame],
    access: ImportAccess = PIPELINE_ONLY,
    timings: dict[str, float] | None = None,
) -> dict[str, int]:
    """Replace the import's schema tables and its imports row, inside the caller's transaction
    (after `begin` and the raw COPY), and grant them as `access` says. Returns rows written per
    table; `timings` (if given) receives each part's seconds."""
    schema = schema_name(name)
    written: dict[str, int] = {}
    clock = time.monotonic()

    def lap(part: str) -> None:
        nonlocal clock
        if timings is not None:
            timings[part] = time.monotonic() - clock
        clock = time.monotonic()

    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        for table, columns in IMPORT_TABLES.items():
            ident = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
            cur.execute(sql.SQL("CREATE TABLE {} (" + columns + ")").format(ident))
    lap("write_replace")
    for table in IMPORT_TABLES:
        written[table] = copy_arrow(conn, schema, table, frames[table])
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
    grant_access(conn, schema, access)
    lap("write_keys")
    return written
