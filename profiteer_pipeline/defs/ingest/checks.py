"""Data-quality checks on `sales` (the metrics' and the model's checks live beside them).

The checks on `sales` are unpartitioned checks that read the partition window of the run that
executes them (one hour, or a single-run range), or the latest hour when run on their own:
partitioned asset checks are still a preview in Dagster 1.13 and record no partition for a
range run. Those guarding the model's input (rows, missing values, ranges) are blocking, so a
bad hour stops the metrics downstream in the same run. The rules live in
`profiteer_pipeline.warehouse.quality` (pure SQL).
"""

from datetime import UTC, datetime, timedelta

import dagster as dg

from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.warehouse import quality

SALES = dg.AssetKey("sales")
#: The latest partition may be this old (its window's end to now) while the schedule runs.
FRESHNESS_LIMIT = timedelta(hours=2)


def _window(context: dg.AssetCheckExecutionContext, conn) -> tuple[datetime, datetime] | None:
    """The run's partition window; the latest hour in `sales` when the run has no partition."""
    if context.has_partition_key or context.has_partition_key_range:
        window = context.partition_time_window
        return window.start, window.end
    latest = quality.latest_hour(conn)
    conn.rollback()
    return None if latest is None else (latest, latest + timedelta(hours=1))


def _products(catalog: CatalogResource) -> list:
    from profiteer_pipeline.synth import CatalogError

    try:
        return catalog.products()
    except CatalogError as exc:
        raise dg.Failure(description=f"the catalog is invalid:\n{exc}") from None


def check_result(
    outcome: quality.Outcome, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=outcome.passed,
        description=outcome.description,
        metadata=outcome.metadata,
        severity=severity,
    )


def _run_on_sales(context, warehouse: PostgresResource, rule) -> dg.AssetCheckResult:
    with warehouse.connect() as conn:
        if not quality.sales_exists(conn):
            return check_result(quality.Outcome(False, "public.sales does not exist"))
        window = _window(context, conn)
        if window is None:
            return check_result(quality.Outcome(False, "public.sales is empty"))
        return check_result(rule(conn, *window))


@dg.asset_check(asset=SALES, blocking=True)
def sales_rows_per_hour(
    context: dg.AssetCheckExecutionContext, warehouse: PostgresResource, catalog: CatalogResource
) -> dg.AssetCheckResult:
    """Each hour holds exactly one row per catalog product (row count == catalog size)."""
    ids = [p.product_id for p in _products(catalog)]
    return _run_on_sales(context, warehouse, lambda c, s, e: quality.row_counts(c, s, e, ids))


@dg.asset_check(asset=SALES, blocking=True)
def sales_no_missing_values(
    context: dg.AssetCheckExecutionContext, warehouse: PostgresResource
) -> dg.AssetCheckResult:
    """No record field is NULL, NaN or (for required text) empty."""
    return _run_on_sales(context, warehouse, quality.null_values)


@dg.asset_check(asset=SALES, blocking=True)
def sales_values_in_range(
    context: dg.AssetCheckExecutionContext, warehouse: PostgresResource, catalog: CatalogResource
) -> dg.AssetCheckResult:
    """views >= 100, 1 <= cart_adds <= views, 1 <= purchases <= cart_adds, price within the
    product's [min_price, max_price], rating within [2, 5]."""
    ranges = [(p.product_id, p.min_price, p.max_price) for p in _products(catalog)]
    return _run_on_sales(context, warehouse, lambda c, s, e: quality.value_ranges(c, s, e, ranges))


@dg.asset_check(asset=SALES)
def sales_freshness(
    context: dg.AssetCheckExecutionContext, warehouse: PostgresResource
) -> dg.AssetCheckResult:
    """The latest partition in `sales` ended at most 2 hours ago. An error in the schedule's
    runs; only a warning in manual runs and backfills, where old data is expected."""
    scheduled = "dagster/schedule_name" in context.run.tags
    severity = dg.AssetCheckSeverity.ERROR if scheduled else dg.AssetCheckSeverity.WARN
    with warehouse.connect() as conn:
        if not quality.sales_exists(conn):
            return check_result(quality.Outcome(False, "public.sales does not exist"), severity)
        return check_result(quality.freshness(conn, datetime.now(UTC), FRESHNESS_LIMIT), severity)
