"""The metric tables (schema `analytics`) as one multi-asset in the hourly job, downstream of `sales`.

One step refreshes them all in one transaction (`warehouse.metrics.refresh_metrics`): a run for
an hour, or for a range of hours (single-run backfill), re-aggregates only the UTC days it
touches, then rebuilds the small tables the app reads. The first refresh, or one after a table
layout changed, reads all of `sales`; so does run config `{"full_rebuild": true}` (op
`analytics_metrics`). Each table's asset (description, deps, column schema, preview) is derived
from its declaration in `profiteer_pipeline.warehouse.metrics.tables`.

A range run (single-run backfill) refreshes the days of the whole range in one pass, and writes
each table's preview and chart once, as an observation on the range's last hour
(`partitions.once_per_run`); each hour's materialization keeps the row count and the refresh's
figures.
"""

from collections.abc import Iterator

import dagster as dg
import pandas as pd

from profiteer_pipeline import previews
from profiteer_pipeline.defs.partitions import hourly_partitions, once_per_run
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.warehouse import metrics as m
from profiteer_pipeline.warehouse import quality


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


def _read(conn, table: str, limit: int | None = None) -> pd.DataFrame:
    """The table in its preview order (the rows a person looks at first)."""
    with conn.cursor() as cur:
        cur.execute(m.select_sql(table, limit=limit))
        return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def _charts(frames: dict[str, pd.DataFrame]) -> dict[str, dict[str, dg.MetadataValue]]:
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


def _headline(frames: dict[str, pd.DataFrame]) -> dict[str, object]:
    """The latest day's numbers as plain metadata, so the UI plots them across runs."""
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


class MetricsConfig(dg.Config):
    """`full_rebuild`: re-aggregate all of `sales` instead of the days of the run's window."""

    full_rebuild: bool = False


@dg.multi_asset(
    name="analytics_metrics",
    specs=[spec(m.TABLES[table]) for table in m.METRIC_TABLES],
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    can_subset=False,
)
def analytics_metrics(
    context: dg.AssetExecutionContext, config: MetricsConfig, warehouse: PostgresResource
) -> Iterator[dg.MaterializeResult]:
    window = context.partition_time_window
    with warehouse.connect() as conn:
        if not quality.sales_exists(conn):
            raise dg.Failure(description="public.sales does not exist: materialize `sales` first")
        conn.rollback()
        recreated = m.ensure_metric_tables(conn)
        if recreated:
            context.log.warning("metric tables had an older layout: recreated them")
        # the first refresh (or after a layout change) reads all of `sales`, so that metrics
        # added to a warehouse that already holds history start complete
        if config.full_rebuild or recreated or m.never_refreshed(conn):
            stats = m.refresh_metrics(conn)
        else:
            stats = m.refresh_metrics(conn, window.start, window.end)
        counts = m.table_counts(conn)
        frames = {
            t: _read(conn, t, limit=None if t in m.APP_TABLES else previews.PREVIEW_ROWS)
            for t in m.METRIC_TABLES
        }
        conn.rollback()
    context.log.info(
        f"metrics refreshed for {stats.window_start:%Y-%m-%d} .. {stats.window_end:%Y-%m-%d} "
        f"({stats.sales_rows:,} sales rows) in {stats.duration_s * 1000:.0f} ms"
    )
    if stats.sales_rows == 0:
        context.log.warning("no rows in `sales` for the days of this window")
    extra = _charts(frames)
    refresh = {
        "refresh_ms": round(stats.duration_s * 1000, 1),
        "days_refreshed": f"{stats.window_start:%Y-%m-%d} .. {stats.window_end:%Y-%m-%d} (excl.)",
        "sales_rows_read": stats.sales_rows,
    }
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
        # a range run: the preview and chart once (an observation), not once per hour
        metadata = once_per_run(context, key(table), metadata)
        yield dg.MaterializeResult(asset_key=key(table), metadata=metadata)
