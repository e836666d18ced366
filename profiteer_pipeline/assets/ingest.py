"""Ingest: the Airbyte sync of each hour from the shop API, then the typed `sales` table.

`raw_sales` is the same asset whichever Airbyte runs the sync (PyAirbyte or a server, chosen by
the `airbyte` resource), so the lineage always reads synthetic_sales -> raw_sales -> sales.
"""

import time

import dagster as dg
import pandas as pd

from profiteer_pipeline.assets.shop import preview_markdown, synthetic_sales
from profiteer_pipeline.partitions import hourly_partitions
from profiteer_pipeline.resources.airbyte import AirbyteSync
from profiteer_pipeline.resources.postgres import PostgresResource
from profiteer_pipeline.synth.fields import RECORD_FIELDS
from profiteer_pipeline.warehouse import raw_sales as raw_sql
from profiteer_pipeline.warehouse.io import replace_window
from profiteer_pipeline.warehouse.schema import RAW_SCHEMA, SALES_DDL

#: The shop API may be briefly down (restart, deploy): retry the sync before failing the run.
SYNC_RETRY = dg.RetryPolicy(max_retries=2, delay=5, backoff=dg.Backoff.LINEAR)


@dg.asset(
    group_name="ingest",
    partitions_def=hourly_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[synthetic_sales],
    retry_policy=SYNC_RETRY,
    kinds={"airbyte", "postgres"},
    description=f"The Airbyte sync of the hour's window from the shop API into the warehouse's "
    f"`{RAW_SCHEMA}.{raw_sql.RAW_TABLE}` (typed columns plus Airbyte's `_airbyte_*` columns).",
)
def raw_sales(context: dg.AssetExecutionContext, airbyte: AirbyteSync) -> dg.MaterializeResult:
    window = context.partition_time_window
    result = airbyte.sync_window(context, window.start, window.end)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": result.rows,
            "rows_per_second": round(result.rows_per_second, 1),
            "sync_seconds": round(result.seconds, 3),
            "mode": result.mode,
            "source": result.source,
            "table": f"{RAW_SCHEMA}.{raw_sql.RAW_TABLE}",
            **result.detail,
        }
    )


def _null_problems(frame: pd.DataFrame) -> list[str]:
    """One line per field with missing values, naming the products: the sync lost data."""
    problems = []
    for column in frame.columns[frame.isna().any()]:
        products = sorted(frame.loc[frame[column].isna(), "product_id"].astype(str).unique())
        problems.append(f"field {column} is missing for product(s) {', '.join(products[:10])}")
    return problems


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
    t0 = time.monotonic()
    with warehouse.connect() as conn:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended('warehouse:sales:ddl', 0))")
            cur.execute(SALES_DDL)
            cur.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (f"{RAW_SCHEMA}.{raw_sql.RAW_TABLE}",)
            )
            if not cur.fetchone()[0]:
                raise dg.Failure(f"{RAW_SCHEMA}.{raw_sql.RAW_TABLE} does not exist: run raw_sales")
            cur.execute(raw_sql.window_query(), {"start": window.start, "end": window.end})
            frame = pd.DataFrame(cur.fetchall(), columns=list(RECORD_FIELDS))
        if frame.empty:
            raise dg.Failure(
                f"no synced rows for {window.start.isoformat()} .. {window.end.isoformat()} in "
                f"{RAW_SCHEMA}.{raw_sql.RAW_TABLE}: the sync brought nothing for this window"
            )
        if problems := _null_problems(frame):
            raise dg.Failure("the synced rows are incomplete:\n" + "\n".join(problems))
        rows = replace_window(conn, "sales", frame, window.start, window.end)
    seconds = time.monotonic() - t0
    context.log.info(f"wrote {rows:,} rows to public.sales in {seconds:.2f}s")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "products": int(frame["product_id"].nunique()),
            "hours": int(frame["timestamp"].nunique()),
            "purchases": int(frame["purchases"].sum()),
            "write_seconds": round(seconds, 3),
            "preview": preview_markdown(frame),
        }
    )
