"""The metric tables (schema `analytics`) as one multi-asset in the hourly job, downstream of `sales`.

The metric tables are not partitioned: each is one table over all of history, so Dagster records
one materialization per table and run (with its preview and chart), not one per hour of the run
(a 30-day single-run backfill would otherwise write 9 x 720 materialization events). They stay in
`hourly_sales_job`, so every scheduled hour and every backfill refreshes them in the same run,
after `sales` and its blocking checks.

What a refresh re-aggregates (`warehouse.metrics.refresh_metrics`, one transaction per stretch of
days): the UTC days of the hours of `sales` that changed since the metrics were last materialized,
read from Dagster's own records (the run's partition or range is always among them, and so is an
hour of `sales` loaded by another run, e.g. `asset materialize --select sales`); then the small
tables the app reads are rebuilt. The first refresh, or one after a table layout changed, reads
all of `sales`; so does run config `{"full_rebuild": true}` (op `analytics_metrics`), and a run
with no hours of its own on an instance with no record of an earlier materialization.
Declarative automation (`follow_inputs_together`) requests them when `sales` was updated outside
the hourly job. Each table's asset (description, deps, column schema, preview) is derived from
its declaration in `profiteer_pipeline.warehouse.metrics.tables`.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

import dagster as dg

from profiteer_pipeline import previews
from profiteer_pipeline.defs.automation.conditions import follow_inputs_together
from profiteer_pipeline.defs.partitions import hourly_partitions
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.warehouse import metrics as m
from profiteer_pipeline.warehouse import quality

if TYPE_CHECKING:
    import pandas as pd  # imported where the tables are read: the code location loads without it


def key(table: str) -> dg.AssetKey:
    return dg.AssetKey([m.SCHEMA, table])


def _dep(upstream: str) -> dg.AssetKey:
    """A metric table's asset, or (a name not declared here, e.g. `sales`) the pipeline's."""
    return key(upstream) if upstream in m.TABLES else dg.AssetKey(upstream)


def spec(table: m.MetricTable) -> dg.AssetSpec:
    """The asset of one declared table: its description, deps and column schema."""
    return dg.AssetSpec(
        key(table.name),
        group_name="metrics",
        description=f"`{table.qualified_name}`: {table.description}",
        deps=[_dep(u) for u in table.upstream],
        kinds={"postgres"},
        metadata={
            "table": table.qualified_name,
            "dagster/column_schema": dg.TableSchema(
                columns=[
                    dg.TableColumn(c.name, c.type, description=c.doc or None) for c in table.columns
                ]
            ),
        },
    )


def _read(conn, table: str, limit: int | None = None) -> "pd.DataFrame":
    """The table in its preview order (the rows a person looks at first)."""
    import pandas as pd

    with conn.cursor() as cur:
        cur.execute(m.select_sql(table, limit=limit))
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def _charts(frames: "dict[str, pd.DataFrame]") -> dict[str, dict[str, dg.MetadataValue]]:
    import pandas as pd

    out: dict[str, dict[str, dg.MetadataValue]] = {}
    hourly = frames["hourly_totals"]
    if not hourly.empty:
        out["hourly_totals"] = {
            "revenue_by_hour": dg.MetadataValue.md(
                previews.bar_chart(hourly["hour_of_day"], hourly["revenue"],
                                 f"Revenue per hour, {hourly['hour'].iloc[0]:%Y-%m-%d} (UTC)",
                                 "revenue")
            )
        }  # fmt: skip
    cat = frames["category_revenue"]
    if not cat.empty:
        recent = cat[cat["day"] >= cat["day"].max() - pd.Timedelta(days=13)]
        wide = recent.pivot(index="day", columns="category", values="revenue").sort_index()
        out["category_revenue"] = {
            "revenue_by_category": dg.MetadataValue.md(
                previews.line_chart({c: wide[c] for c in wide.columns},
                                  "Revenue per category, last 14 days", "revenue")
            )
        }  # fmt: skip
    hot = frames["hot_products"]
    if not hot.empty:
        out["hot_products"] = {
            "purchases_top": dg.MetadataValue.md(
                previews.barh_chart(hot["product_id"] + " " + hot["product_name"], hot["purchases"],
                                  f"Purchases on {hot['day'].iloc[0]}", "purchases")
            )
        }  # fmt: skip
    return out


def _headline(frames: "dict[str, pd.DataFrame]") -> dict[str, object]:
    """The latest day's numbers as plain metadata, so the UI plots them across runs."""
    import pandas as pd

    dash = frames["dashboard_summary"]
    latest = dash[dash["is_latest"]]
    if latest.empty:
        return {}
    row = latest.iloc[0]
    out: dict[str, object] = {
        "latest_day": str(row["day"]),
        "revenue": float(row["revenue"]),
        "items_sold": int(row["items_sold"]),
        "conversion_rate": float(row["conversion_rate"] or 0.0),
        "top_category": str(row["top_category"]),
    }
    if pd.notna(row["revenue_change_pct"]):
        out["revenue_change_pct"] = round(float(row["revenue_change_pct"]), 2)
    return out


SALES = dg.AssetKey("sales")
#: more changed hours of `sales` than this since the last refresh: rebuild from all of `sales`
MAX_CHANGED_HOURS = 24 * 366


def run_hours(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[str]:
    """The hours of the run's partition or range (a scheduled hour, a backfill), else none."""
    tags = context.run.tags
    first = tags.get("dagster/asset_partition_range_start") or tags.get("dagster/partition")
    last = tags.get("dagster/asset_partition_range_end") or first
    if not first:
        return []
    return hourly_partitions.get_partition_keys_in_range(dg.PartitionKeyRange(first, last))


def run_window(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> tuple[datetime, datetime] | None:
    """[start, end) of the run's hours, if the run has a partition or a range."""
    hours = run_hours(context)
    if not hours:
        return None
    return (
        hourly_partitions.time_window_for_partition_key(hours[0]).start,
        hourly_partitions.time_window_for_partition_key(hours[-1]).end,
    )


def changed_hours(context: dg.AssetExecutionContext) -> list[str] | None:
    """The hours to re-aggregate: the run's own (a scheduled hour, a backfill) and every hour of
    `sales` materialized since the metric tables were last materialized (by another run, e.g.
    `asset materialize --select sales`), from the instance's records. None (the caller then
    rebuilds from all of `sales`) when the run has no hours and the instance no earlier
    materialization, or when more than MAX_CHANGED_HOURS changed."""
    instance = context.instance
    hours = set(run_hours(context))
    latest = instance.fetch_materializations(
        key(m.METRIC_TABLES[-1]), limit=1, ascending=False
    ).records
    if not latest:
        return sorted(hours) or None
    records_filter = dg.AssetRecordsFilter(asset_key=SALES, after_storage_id=latest[0].storage_id)
    cursor = None
    while True:
        page = instance.fetch_materializations(records_filter, limit=1000, cursor=cursor)
        hours.update(r.partition_key for r in page.records if r.partition_key)
        if len(hours) > MAX_CHANGED_HOURS:
            return None
        if not page.has_more:
            return sorted(hours)
        cursor = page.cursor


def day_stretches(hours: list[str]) -> list[tuple[datetime, datetime]]:
    """The UTC days the hours fall on, as windows of consecutive days [start, end)."""
    days = sorted({hourly_partitions.time_window_for_partition_key(h).start.date() for h in hours})
    stretches: list[list[date]] = []
    for day in days:
        if stretches and day - stretches[-1][1] == timedelta(days=1):
            stretches[-1][1] = day
        else:
            stretches.append([day, day])
    return [(_midnight(first), _midnight(last + timedelta(days=1))) for first, last in stretches]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _combined(parts: list[m.RefreshStats]) -> m.RefreshStats:
    """The refreshes of several stretches of days as one (first day to last, rows summed)."""
    out = m.RefreshStats(parts[-1].mode, parts[0].window_start, parts[-1].window_end)
    out.latest_day = parts[-1].latest_day
    for part in parts:
        out.sales_rows += part.sales_rows
        out.duration_s += part.duration_s
        for table, rows in part.rows.items():
            out.rows[table] = out.rows.get(table, 0) + rows
    return out


class MetricsConfig(dg.Config):
    """`full_rebuild`: re-aggregate all of `sales` instead of the days of the run's window."""

    full_rebuild: bool = False


@dg.multi_asset(
    name="analytics_metrics",
    specs=[
        spec(m.TABLES[table]).replace_attributes(automation_condition=follow_inputs_together())
        for table in m.METRIC_TABLES
    ],
    # not partitioned, but in a range run with the hourly assets: `asset materialize
    # --partition-range` wants every selected asset to declare a single-run policy
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=False,
)
def analytics_metrics(
    context: dg.AssetExecutionContext, config: MetricsConfig, warehouse: PostgresResource
) -> Iterator[dg.MaterializeResult]:
    hours = None if config.full_rebuild else changed_hours(context)
    with warehouse.connect() as conn:
        if not quality.sales_exists(conn):
            raise dg.Failure(description="public.sales does not exist: materialize `sales` first")
        conn.rollback()
        recreated = m.ensure_metric_tables(conn)
        if recreated:
            context.log.warning("metric tables had an older layout: recreated them")
        # the first refresh (or after a layout change) reads all of `sales`, so that metrics
        # added to a warehouse that already holds history start complete
        if hours is None or recreated or m.never_refreshed(conn):
            stats = m.refresh_metrics(conn)
        elif hours:
            stats = _combined([m.refresh_metrics(conn, a, b) for a, b in day_stretches(hours)])
        else:
            stats = None
        counts = m.table_counts(conn)
        frames = {
            t: _read(conn, t, limit=None if t in m.APP_TABLES else previews.PREVIEW_ROWS)
            for t in m.METRIC_TABLES
        }
        conn.rollback()
    if stats is None:
        context.log.info(
            "no hour of `sales` changed since the last refresh: nothing to re-aggregate"
        )
        refresh: dict[str, object] = {"days_refreshed": "none", "sales_rows_read": 0}
        stats = m.RefreshStats("none", None, None)
    else:
        context.log.info(
            f"metrics refreshed for {stats.window_start:%Y-%m-%d} .. {stats.window_end:%Y-%m-%d} "
            f"({stats.sales_rows:,} sales rows) in {stats.duration_s * 1000:.0f} ms"
        )
        if stats.sales_rows == 0:
            context.log.warning("no rows in `sales` for the days of this window")
        refresh = {
            "refresh_ms": round(stats.duration_s * 1000, 1),
            "days_refreshed": f"{stats.window_start:%Y-%m-%d} .. {stats.window_end:%Y-%m-%d}"
            " (excl.)",
            "sales_rows_read": stats.sales_rows,
        }
    extra = _charts(frames)
    for table in m.METRIC_TABLES:
        metadata: dict[str, object] = {
            "dagster/row_count": counts[table],
            "preview": dg.MetadataValue.md(previews.markdown_table(frames[table])),
            **extra.get(table, {}),
        }
        if table in m.BASE_TABLES:
            metadata.update(refresh)
            if table in stats.rows:
                metadata["rows_rewritten"] = stats.rows[table]
        if table == "dashboard_summary":
            metadata.update(_headline(frames))
        yield dg.MaterializeResult(asset_key=key(table), metadata=metadata)
