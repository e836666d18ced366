"""The model's checks that query the live model (`held_out_accuracy` is emitted by the asset)."""

from typing import TYPE_CHECKING

import dagster as dg
from psycopg2 import errors as pg_errors

from profiteer_pipeline import previews
from profiteer_pipeline.defs.metrics.assets import key as metric_key
from profiteer_pipeline.defs.model.assets import MODEL_KEY, SPEC
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.model import tolerances

if TYPE_CHECKING:
    import pandas as pd  # the check's work (pandas, numpy) is imported where it runs

#: The check reads what the app reads: the metric table of bucket averages and the dimension.
INPUTS = [metric_key("avg_purchases_by_bucket"), dg.AssetKey("products")]


def price_response_inputs(
    warehouse: PostgresResource,
) -> "tuple[pd.DataFrame, dict[str, tuple[float, float]]]":
    """Every product's what-if profiles (`profile.whatif_profile` of its `products` row and each
    of its `analytics.avg_purchases_by_bucket` rows, as the app builds them) and its price range."""
    from profiteer_pipeline.model import profile

    with warehouse.connect() as conn:
        return profile.read_profiles(conn)


@dg.asset_check(
    asset=MODEL_KEY,
    additional_deps=INPUTS,
    description="Holding a product's typical inputs for each time-of-day bucket (the app's "
    "what-if profile, from `analytics.avg_purchases_by_bucket` and `products`), predicted "
    "purchases must not rise as the price rises across its [min_price, max_price] (21 prices) "
    f"by more than 1 purchase + {tolerances.REL_TOLERANCE:.0%} of the curve's peak (rounding and "
    "the data's own noise, sd 4.9 %), and must fall from the lowest to the highest price.",
)
def price_response(mindsdb: MindsDBResource, warehouse: PostgresResource) -> dg.AssetCheckResult:
    from profiteer_pipeline.model import training

    try:
        profiles, ranges = price_response_inputs(warehouse)
    except pg_errors.UndefinedTable as exc:
        return dg.AssetCheckResult(
            passed=False,
            description=f"{str(exc).splitlines()[0]}: materialize `products` and the metrics "
            "first (the check reads the app's inputs)",
        )
    with mindsdb.session() as client:
        grid = training.price_response_grid(client, SPEC, profiles, ranges)
    if grid.empty:
        return dg.AssetCheckResult(
            passed=False,
            description="no product has rows in analytics.avg_purchases_by_bucket joined with "
            "products: nothing to check",
        )
    verdict = training.check_price_response(grid)
    curves = verdict.curves
    bad = curves[curves["rises"] | ~curves["falls"]]
    afternoon = grid[grid["bucket"] == "Afternoon"]
    chart = previews.price_curves(
        afternoon if not afternoon.empty else grid, "product_id",
        "Predicted purchases by price, Afternoon profile (first products)",
    )  # fmt: skip
    return dg.AssetCheckResult(
        passed=verdict.passed,
        description=verdict.summary(),
        metadata={
            "curves": verdict.n_curves,
            "rising_curves": verdict.n_rising,
            "flat_curves": verdict.n_flat,
            "worst_step_up": float(curves["max_rise"].max()),
            "predictions": len(grid),
            "violations": dg.MetadataValue.md(
                previews.markdown_table(bad) if not bad.empty else "none"
            ),
            "curves_chart": dg.MetadataValue.md(chart),
        },
    )
