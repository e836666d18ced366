"""Creating the metric tables and bringing them up to date with `sales`, in one transaction.

Every statement comes from the declarations (`tables`); the steps and their order are here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.warehouse.io import lock_key
from profiteer_pipeline.warehouse.metrics.declaration import SALES, SCHEMA, MetricTable, ensure
from profiteer_pipeline.warehouse.metrics.registry import APP_TABLES, METRIC_TABLES, TABLES, placed
from profiteer_pipeline.warehouse.metrics.tables import (
    DAILY_PRODUCT_SALES,
    HOT_PRODUCTS_LIMIT,
    HOURLY_SALES,
    PRODUCT_BUCKET_TOTALS,
    REFRESH_LOG,
)

_DELTA = "_bucket_delta"  # the transaction's temporary table of changes to the running totals


def metrics_ddl(tables: dict[str, MetricTable] = TABLES) -> sql.Composed:
    """The schema and every declared table (CREATE ... IF NOT EXISTS)."""
    schema = next(iter(tables.values())).schema
    create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {};\n").format(sql.Identifier(schema))
    return sql.Composed([create, *(t.ddl for t in tables.values())])


@dataclass
class RefreshStats:
    """What one refresh did: for logs, asset metadata and the benchmark."""

    mode: str
    window_start: datetime | None
    window_end: datetime | None
    sales_rows: int = 0
    latest_day: date | None = None
    duration_s: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)


def day_window(start: datetime, end: datetime) -> tuple[date, date]:
    """The UTC days [day0, day1) that the hours [start, end) touch."""
    if end <= start:
        raise ValueError(f"empty window: end {end.isoformat()} is not after {start.isoformat()}")
    first = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(microseconds=1)).date()
    return first, last + timedelta(days=1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, dtime(0), tzinfo=UTC)


def ensure_metric_tables(conn: PgConnection, schema: str = SCHEMA) -> bool:
    """Create the schema and tables if missing (idempotent; serialized against other creators).

    A table whose columns differ from its declaration (an older version of this package) is
    dropped and created anew; the return value says so, and the caller must then rebuild in full.
    One that only has columns its declaration no longer has loses them and keeps its rows.
    """
    with conn:
        lock_key(conn, schema, "ddl")
        with conn.cursor() as cur:
            return bool(ensure(cur, list(placed(schema).values())))


def never_refreshed(conn: PgConnection, schema: str = SCHEMA) -> bool:
    """True until the first refresh has committed (its row in `refresh_log`)."""
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(
                REFRESH_LOG.in_schema(schema).identifier
            )
        )
        out = bool(cur.fetchone()[0])
    conn.rollback()
    return out


def refresh_metrics(conn: PgConnection, *args, **kwargs) -> RefreshStats:
    """`refresh_in_transaction` in a transaction of its own: committed on success, rolled back
    on any error."""
    with conn:
        return refresh_in_transaction(conn, *args, **kwargs)


def refresh_in_transaction(
    conn: PgConnection,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    hot_limit: int = HOT_PRODUCTS_LIMIT,
    schema: str = SCHEMA,
    sales: tuple[str, str] = SALES,
) -> RefreshStats:
    """Bring every metric table up to date with `sales`, in the caller's transaction (an
    import's writes its sales and their metrics together, or not at all; `refresh_metrics` gives
    the shop's hourly refresh its own).

    With a window [start, end) (UTC hours: a partition or a range), only the UTC days it touches
    are re-aggregated from `sales`; with no window, everything is rebuilt from scratch. Either
    way the result is the same (the tests hold it to that). Concurrent refreshes are serialized
    by an advisory lock, so the running totals never double-count. `schema` and `sales` place
    the tables and their source: the simulated shop's by default, an import's in its schema.
    """
    if (start is None) != (end is None):
        raise ValueError("give both start and end, or neither for a full rebuild")
    t0 = time.perf_counter()
    tables = placed(schema, sales)
    daily, hourly = tables[DAILY_PRODUCT_SALES.name], tables[HOURLY_SALES.name]
    totals = tables[PRODUCT_BUCKET_TOTALS.name].running_sql(_DELTA)
    full = start is None
    stats = RefreshStats("full" if full else "incremental", start, end)
    lock_key(conn, schema, "refresh")
    with conn.cursor() as cur:
        cur.execute("SET LOCAL work_mem = '64MB'")  # one in-memory hash aggregate per scan
        if full:
            cur.execute(
                sql.SQL('SELECT min("timestamp"), max("timestamp") FROM {}').format(
                    sql.Identifier(*sales)
                )
            )  # index-only: the ends of the timestamp index
            lo, hi = cur.fetchone()
            windowed = [t.identifier for t in tables.values() if t.windowed]
            cur.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(windowed)))
            if lo is None:
                day0 = day1 = datetime.now(UTC).date()
            else:
                day0, day1 = day_window(lo, hi + timedelta(hours=1))
        else:
            day0, day1 = day_window(start, end)
        params = {
            "day0": day0,
            "day1": day1,
            "ts0": _midnight(day0),
            "ts1": _midnight(day1),
            "hot_limit": hot_limit,
        }
        stats.window_start, stats.window_end = params["ts0"], params["ts1"]
        if not full:
            cur.execute(totals["capture_old"], params)
        cur.execute(daily.refresh_sql, params)  # the window's days, anew
        stats.rows[daily.name] = cur.rowcount
        if full:
            cur.execute(totals["rebuild"])
        else:
            cur.execute(totals["capture_new"], params)
            cur.execute(totals["apply"])
        cur.execute(hourly.refresh_sql, params)
        stats.rows[hourly.name] = cur.rowcount
        cur.execute(sql.SQL("SELECT coalesce(sum(products), 0) FROM {}"
                            " WHERE hour >= %(ts0)s AND hour < %(ts1)s").format(
                                hourly.identifier), params)  # fmt: skip
        stats.sales_rows = int(cur.fetchone()[0])
        for name in APP_TABLES:  # category_revenue (by window) first: the dashboard reads it
            cur.execute(tables[name].refresh_sql, params)
            if tables[name].windowed:
                stats.rows[name] = cur.rowcount
        cur.execute(sql.SQL("SELECT max(day) FROM {}").format(daily.identifier))
        stats.latest_day = cur.fetchone()[0]
        stats.duration_s = time.perf_counter() - t0
        cur.execute(
            tables[REFRESH_LOG.name].refresh_sql,
            {
                **params,
                "mode": stats.mode,
                "sales_rows": stats.sales_rows,
                "duration_ms": stats.duration_s * 1000,
            },
        )
    return stats


def table_counts(conn: PgConnection, tables: list[str] | None = None) -> dict[str, int]:
    """Row counts of the metric tables (all small, except the base aggregates' O(days) rows)."""
    out = {}
    with conn.cursor() as cur:
        for table in tables or METRIC_TABLES:
            if table not in TABLES:
                raise ValueError(f"unknown metric table {table!r}")
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(TABLES[table].identifier))
            out[table] = int(cur.fetchone()[0])
    conn.rollback()
    return out
