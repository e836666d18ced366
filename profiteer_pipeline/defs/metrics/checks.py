"""The metrics' check: the app's numbers reconcile with `sales`."""

import dagster as dg

from profiteer_pipeline.defs.ingest.checks import check_result
from profiteer_pipeline.defs.metrics.assets import key, run_window
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.warehouse import quality


@dg.asset_check(asset=key("dashboard_summary"))
def metrics_reconcile_with_sales(
    context: dg.AssetCheckExecutionContext, warehouse: PostgresResource
) -> dg.AssetCheckResult:
    """The latest day's revenue and items sold equal the sums over `sales`, and so does every
    day of the run's hours."""
    with warehouse.connect() as conn:
        if not quality.sales_exists(conn):
            return check_result(quality.Outcome(False, "public.sales does not exist"))
        # the run's hours (a scheduled hour, a backfill), else the latest day only
        return check_result(quality.reconcile_metrics(conn, *(run_window(context) or (None, None))))
