"""The model's checks that query the live model (`held_out_accuracy` is emitted by the asset)."""

import dagster as dg

from profiteer_pipeline import previews
from profiteer_pipeline.defs.model.assets import MODEL_KEY, SPEC
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.shop.resources import CatalogResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.model import evaluation, features, training


@dg.asset_check(
    asset=MODEL_KEY,
    description="Holding a product's typical inputs for each time-of-day bucket, predicted "
    "purchases must not rise as the price rises across its [min_price, max_price] (21 prices) "
    f"by more than 1 purchase + {evaluation.REL_TOLERANCE:.0%} of the curve's peak (rounding and "
    "the data's own noise, sd 4.9 %), and must fall from the lowest to the highest price.",
)
def price_response(
    mindsdb: MindsDBResource, warehouse: PostgresResource, catalog: CatalogResource
) -> dg.AssetCheckResult:
    profiles = warehouse.read_sql(features.profile_query())
    ranges = {p.product_id: (p.min_price, p.max_price) for p in catalog.products()}
    with mindsdb.session() as client:
        grid = training.price_response_grid(client, SPEC, profiles, ranges)
    if grid.empty:
        return dg.AssetCheckResult(
            passed=False,
            description="no product of the catalog has rows in sales_features: nothing to check",
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
