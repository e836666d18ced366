"""The pre-aggregated metric tables in schema `analytics`: one declaration per table, the
incremental refresh, and the reads.

- `tables`: the declarations (`MetricTable`), the one place a table's name, columns (with their
  types and the SQL that computes them), key, description, upstream, preview order, refresh
  statement and role are written;
- `table`: `MetricTable` itself and the SQL derived from a declaration (DDL, refresh, SELECTs);
- `registry`: the declarations by name and role, and `select_sql` (the reads);
- `refresh`: creating the tables and bringing them up to date with `sales` in one transaction.

The app reads ONLY the app-facing tables (never `public.sales`), with `select_sql`. Every
app-facing table carries `updated_at`; `analytics.refresh_log` records each refresh, so the app
can show how fresh the data is. Base aggregates hold integer sums (money in cents, ratings in
thousandths), so that adding and removing days is exact: an hourly refresh re-aggregates only
the UTC days its window touches from `sales` (by the timestamp index), applies the change to the
running totals, then rebuilds the small derived tables from the base aggregates; its cost does
not grow with the history.
"""

from __future__ import annotations

from profiteer_pipeline.warehouse.metrics.declaration import (
    SCHEMA,
    Column,
    MetricTable,
    RunningTotals,
)
from profiteer_pipeline.warehouse.metrics.refresh import (
    RefreshStats,
    day_window,
    ensure_metric_tables,
    metrics_ddl,
    never_refreshed,
    refresh_metrics,
    table_counts,
)
from profiteer_pipeline.warehouse.metrics.registry import (
    APP_TABLES,
    BASE_TABLES,
    METRIC_TABLES,
    TABLES,
    columns,
    select_sql,
)
from profiteer_pipeline.warehouse.metrics.tables import HOT_PRODUCTS_LIMIT

__all__ = [
    "APP_TABLES",
    "BASE_TABLES",
    "HOT_PRODUCTS_LIMIT",
    "METRIC_TABLES",
    "SCHEMA",
    "TABLES",
    "Column",
    "MetricTable",
    "RefreshStats",
    "RunningTotals",
    "columns",
    "day_window",
    "ensure_metric_tables",
    "metrics_ddl",
    "never_refreshed",
    "refresh_metrics",
    "select_sql",
    "table_counts",
]
