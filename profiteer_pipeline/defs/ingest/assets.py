"""Ingest: the Airbyte sync of each hour from the shop API, then the typed `sales` table.

`raw_sales` is the same asset whichever Airbyte runs the sync (PyAirbyte or a server, chosen by
the `airbyte` resource), so the lineage always reads synthetic_sales -> raw_sales -> sales.

A range run (single-run backfill) syncs and loads the whole range in one step, so its figures
(rows, seconds, rate, preview) are the range's: they are written once, in an observation on the
range's last hour (`figures_once`), and each hour's materialization carries none (Dagster would
copy them onto every hour: 720 copies for 30 days, about 1 MB of events).
"""

import time

import dagster as dg

from profiteer_pipeline.defs.ingest.resources import AirbyteSync
from profiteer_pipeline.defs.partitions import hourly_partitions, is_range_run
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.previews import markdown_table
from profiteer_pipeline.warehouse import raw_sales as raw_sql
from profiteer_pipeline.warehouse.schema import RAW_SCHEMA


def figures_once(
    context: dg.AssetExecutionContext, metadata: dict[str, object]
) -> dict[str, object]:
    """The metadata of the step's materialization: all of it for one hour; in a range run, none
    (the figures are the whole range's) and ONE AssetObservation on the range's last hour."""
    if not is_range_run(context):
        return metadata
    keys = context.partition_key_range
    context.log_event(
        dg.AssetObservation(
            asset_key=context.asset_key,
            partition=keys.end,
            description=f"the range run {keys.start} ... {keys.end}: its figures, once",
            metadata={"partition_range": f"{keys.start} ... {keys.end}", **metadata},
        )
    )
    return {}


#: The shop API may be briefly down (restart, deploy): retry the sync before failing the run.
SYNC_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.LINEAR)


@dg.asset(
    group_name="ingest",
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetKey("synthetic_sales")],
    retry_policy=SYNC_RETRY,
    kinds={"airbyte", "postgres"},
    description=f"The Airbyte sync of the hour's window from the shop API into the warehouse's "
    f"`{RAW_SCHEMA}.{raw_sql.RAW_TABLE}` (typed columns plus Airbyte's `_airbyte_*` columns).",
)
def raw_sales(context: dg.AssetExecutionContext, airbyte: AirbyteSync) -> dg.MaterializeResult:
    window = context.partition_time_window
    result = airbyte.sync_window(context, window.start, window.end)
    metadata = {
        "dagster/row_count": result.rows,
        "rows_per_second": round(result.rows_per_second, 1),
        "sync_seconds": round(result.seconds, 3),
        "mode": result.mode,
        "source": result.source,
        "table": f"{RAW_SCHEMA}.{raw_sql.RAW_TABLE}",
        **result.detail,
    }
    return dg.MaterializeResult(metadata=figures_once(context, metadata))


@dg.asset(
    group_name="ingest",
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[raw_sales],
    kinds={"postgres"},
    description="Warehouse table `public.sales`: the 15 typed fields, one row per "
    "(product_id, timestamp), rebuilt per hour from the Airbyte landing table.",
)
def sales(context: dg.AssetExecutionContext, warehouse: PostgresResource) -> dg.MaterializeResult:
    window = context.partition_time_window
    span = f"{window.start.isoformat()} .. {window.end.isoformat()}"
    t0 = time.monotonic()
    with warehouse.connect() as conn:
        try:
            frame = raw_sql.build_sales_window(conn, window.start, window.end)
        except (LookupError, raw_sql.IncompleteSync) as exc:
            raise dg.Failure(f"cannot build sales for {span}: {exc}") from None
    if frame.empty:
        raise dg.Failure(
            f"no synced rows for {span} in {RAW_SCHEMA}.{raw_sql.RAW_TABLE}: "
            "the sync brought nothing for this window"
        )
    rows = len(frame)
    seconds = time.monotonic() - t0
    context.log.info(f"wrote {rows:,} rows to public.sales in {seconds:.2f}s")
    metadata = {
        "dagster/row_count": rows,
        "products": int(frame["product_id"].nunique()),
        "hours": int(frame["timestamp"].nunique()),
        "purchases": int(frame["purchases"].sum()),
        "write_seconds": round(seconds, 3),
        "preview": dg.MetadataValue.md(markdown_table(frame)),
    }
    return dg.MaterializeResult(metadata=figures_once(context, metadata))
