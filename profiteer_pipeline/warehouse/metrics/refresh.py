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
from profiteer_pipeline.warehouse.metrics.declaration import SCHEMA
from profiteer_pipeline.warehouse.metrics.registry import APP_TABLES, METRIC_TABLES, TABLES
from profiteer_pipeline.warehouse.metrics.tables import (
    DAILY_PRODUCT_SALES,
    HOT_PRODUCTS_LIMIT,
    HOURLY_SALES,
    PRODUCT_BUCKET_TOTALS,
    REFRESH_LOG,
)

_DELTA = "_bucket_delta"  # the transaction's temporary table of changes to the running totals
_TOTALS = PRODUCT_BUCKET_TOTALS.running_sql(_DELTA)


def metrics_ddl() -> sql.Composed:
    """The schema and every declared table (CREATE ... IF NOT EXISTS)."""
    create = sql.SQL("CREATE SCHEMA IF NOT EXISTS {};\n").format(sql.Identifier(SCHEMA))
    return sql.Composed([create, *(t.ddl for t in TABLES.values())])


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


def ensure_metric_tables(conn: PgConnection) -> bool:
    """Create the schema and tables if missing (idempotent; serialized against other creators).

    A table whose columns differ from its declaration (an older version of this package) is
    dropped and created anew; the return value says so, and the caller must then rebuild in full.
    """
    with conn:
        lock_key(conn, SCHEMA, "ddl")
        with conn.cursor() as cur:
            cur.execute(
                "SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position)"
                " FROM information_schema.columns WHERE table_schema = %s GROUP BY table_name",
                (SCHEMA,),
            )
            existing = dict(cur.fetchall())
            stale = [
                t for t in TABLES.values() if existing.get(t.name, t.column_names) != t.column_names
            ]
            for table in stale:
                cur.execute(sql.SQL("DROP TABLE {}").format(table.identifier))
            cur.execute(metrics_ddl())
    return bool(stale)


def never_refreshed(conn: PgConnection) -> bool:
    """True until the first refresh has committed (its row in `refresh_log`)."""
    with conn.cursor() as cur:
        cur.execute("SELECT NOT EXISTS (SELECT 1 FROM analytics.refresh_log)")
        out = bool(cur.fetchone()[0])
    conn.rollback()
    return out


def refresh_metrics(
    conn: PgConnection,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    hot_limit: int = HOT_PRODUCTS_LIMIT,
) -> RefreshStats:
    """Bring every metric table up to date with `sales`, in one transaction.

    With a window [start, end) (UTC hours: a partition or a range), only the UTC days it touches
    are re-aggregated from `sales`; with no window, everything is rebuilt from scratch. Either
    way the result is the same (the tests hold it to that). Concurrent refreshes are serialized
    by an advisory lock, so the running totals never double-count.
    """
    if (start is None) != (end is None):
        raise ValueError("give both start and end, or neither for a full rebuild")
    t0 = time.perf_counter()
    full = start is None
    stats = RefreshStats("full" if full else "incremental", start, end)
    with conn:  # one transaction: commit on success, roll back on any error
        lock_key(conn, SCHEMA, "refresh")
        with conn.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '64MB'")  # one in-memory hash aggregate per scan
            if full:
                cur.execute(
                    'SELECT min("timestamp"), max("timestamp") FROM public.sales'
                )  # index-only: the ends of the timestamp index
                lo, hi = cur.fetchone()
                windowed = [t.identifier for t in TABLES.values() if t.windowed]
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
                cur.execute(_TOTALS["capture_old"], params)
            cur.execute(DAILY_PRODUCT_SALES.refresh_sql, params)  # the window's days, anew
            stats.rows[DAILY_PRODUCT_SALES.name] = cur.rowcount
            if full:
                cur.execute(_TOTALS["rebuild"])
            else:
                cur.execute(_TOTALS["capture_new"], params)
                cur.execute(_TOTALS["apply"])
            cur.execute(HOURLY_SALES.refresh_sql, params)
            stats.rows[HOURLY_SALES.name] = cur.rowcount
            cur.execute("SELECT coalesce(sum(products), 0) FROM analytics.hourly_sales"
                        " WHERE hour >= %(ts0)s AND hour < %(ts1)s", params)  # fmt: skip
            stats.sales_rows = int(cur.fetchone()[0])
            for name in APP_TABLES:  # category_revenue (by window) first: the dashboard reads it
                cur.execute(TABLES[name].refresh_sql, params)
                if TABLES[name].windowed:
                    stats.rows[name] = cur.rowcount
            cur.execute("SELECT max(day) FROM analytics.daily_product_sales")
            stats.latest_day = cur.fetchone()[0]
            stats.duration_s = time.perf_counter() - t0
            cur.execute(
                REFRESH_LOG.refresh_sql,
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
