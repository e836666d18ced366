"""`import_forecast`: the model on an import's real fields, trained after each import.

The asset is every source's model asset (`defs/model/model_asset`: MindsDB's session, pruned
versions, the run metadata and `beats_baseline`); this module gives an import's grain. One
materialization per import (partition = the import's name), `forecast.run`:
1. `model_features`, one row per product-day, from the import's order lines and `products`
   (which products and days, and why, in the metadata, with how densely the products sell:
   `model.grain`), readable by MindsDB's login;
2. a rolling-origin backtest at product-day: for each of the latest 3 weeks a twin trained on
   the days before it forecasts it, scored with RMSSE and Poisson deviance beside the seasonal
   naive and the product's 28-day mean: check `beats_baseline`;
3. the model `<schema>_forecast` trained on every modelled day (CREATE, then RETRAIN) by the
   count model MindsDB hosts as a BYOM engine (`model.count_model`);
4. its price curves and the best price per product, and the evaluation, replaced together in
   `price_curves`, `price_advice` and `model_evaluation`: check `price_response`. A product gets
   a best price only when the model beats the 28-day mean, its curve falls with the price and its
   elasticity's 90 % interval lies below zero (`model.elasticity`, from the order lines at the
   price offered); otherwise its status is `no_change` with the reason (`advice_table.advice`).
   Postage, fees and adjustments are `excluded` (`sources.files.merchandise`, plus the run config's
   `non_merchandise` codes).
"""

from typing import TYPE_CHECKING

import dagster as dg

from profiteer_pipeline import previews
from profiteer_pipeline.defs.files.assets import GROUP, PRODUCTS, SALES
from profiteer_pipeline.defs.files.partitions import imported_files
from profiteer_pipeline.defs.model.advice_metadata import advice_metadata
from profiteer_pipeline.defs.model.model_asset import Trained, model_asset
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.model import tolerances
from profiteer_pipeline.model.figures import DAILY
from profiteer_pipeline.sources.files.names import schema_name

if TYPE_CHECKING:
    # the model run (numpy, pandas) is imported where it runs: the code location loads without it
    from profiteer_pipeline.model import forecast
    from profiteer_pipeline.model.client import MindsDBClient

KEY = dg.AssetKey("import_forecast")


class ForecastConfig(dg.Config):
    """What a run may add to the defaults."""

    non_merchandise: list[str] = []  # the shop's own codes of postage, fees, ... (never priced)


#: MindsDB keeps every version; older finished ones beyond this many are dropped.
KEEP_VERSIONS = 3


def _train(
    context: dg.AssetExecutionContext,
    client: "MindsDBClient",
    mindsdb: MindsDBResource,
    warehouse: PostgresResource,
    config: "ForecastConfig",
) -> Trained:
    from profiteer_pipeline.defs.model import guardrails
    from profiteer_pipeline.model import forecast

    schema = schema_name(context.partition_key)
    try:
        run = forecast.run(
            client,
            warehouse.connect,
            schema,
            model_user=mindsdb.warehouse_user,
            ensure_datasource=mindsdb.ensure_warehouse_datasource,
            timeout=mindsdb.training_timeout,
            log=context.log.info,
            non_merchandise=tuple(config.non_merchandise),
            rails=guardrails.load(context),
        )
    except forecast.NothingToModel as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    return Trained(
        run.spec,
        forecast.holdout_spec(run.spec),
        run.training,
        run.result,
        _metadata(schema, run),
        [_price_response(run)],
    )


import_forecast = model_asset(
    key=KEY,
    yardstick=DAILY,
    train=_train,
    keep_versions=KEEP_VERSIONS,
    config=ForecastConfig,
    group_name=GROUP,
    deps=[SALES, PRODUCTS],
    partitions_def=imported_files,
    automation_condition=dg.AutomationCondition.eager(),
    check_specs=[
        dg.AssetCheckSpec(
            "price_response",
            asset=KEY,
            description="Expected units per day must not rise with the price across a product's "
            f"prices paid by more than {tolerances.ABS_TOLERANCE:g} unit + "
            f"{tolerances.REL_TOLERANCE:.0%} of the curve's peak, and at most "
            f"{tolerances.MAX_FLAT_SHARE:.0%} of the curves may be flat (not falling by "
            f"{tolerances.FALL_MIN_SHARE:.0%} from the lowest to the highest price).",
        ),
    ],
    description="MindsDB model `<schema>_forecast` on an import's real fields, per product-day "
    "(the offered price relative to the base price, day of week, product, category, recent "
    "demand): a count model with demand that never rises with the price, backtested "
    "against the seasonal naive and the 28-day mean; each product's price elasticity with its 90 % interval; its price "
    "curves and advice in `price_curves`, `price_advice` and `model_evaluation`.",
)


def _metadata(schema: str, run: "forecast.ForecastRun") -> dict[str, object]:
    from profiteer_pipeline.model import grain

    verdict, advice = run.verdict, run.advice
    advised = advice[advice["status"] == "advice"]
    top = advised.sort_values("revenue_per_day_at_best", ascending=False)
    metadata: dict[str, object] = {
        "seconds": dg.MetadataValue.json(run.seconds),
        "dagster/row_count": run.training_rows,
        "training_rows": run.training_rows,
        "products_modelled": len(run.selection.products),
        **advice_metadata(advice, run.elasticities.pooled),
        "products_excluded": dg.MetadataValue.md(
            previews.markdown_table(run.excluded) if not run.excluded.empty else "none"
        ),
        "selection": run.selection.reason,
        **run.density.metadata(grain.DAY),
        "first_modelled_day": f"{run.selection.since:%Y-%m-%d}",
        "curves": verdict.n_curves,
        "rising_curves": verdict.n_rising,
        "flat_curves": verdict.n_flat,
        "datasource": f"{run.spec.datasource} ({run.datasource})",
        "tables": dg.MetadataValue.json({f"{schema}.{t}": n for t, n in run.written.items()}),
    }
    if not run.curve.empty:
        # the advised products with the most revenue; the first curves when none is advised
        shown = (top if not top.empty else run.curve)["product_id"].drop_duplicates().head(8)
        metadata["price_curves"] = dg.MetadataValue.md(
            previews.price_curves(
                run.curve[run.curve["product_id"].isin(shown)].rename(
                    columns={"units_per_day": "predicted"}
                ),
                "product_id",
                "Expected units per day by price (top products by revenue)",
            )
        )
    return metadata


def _price_response(run: "forecast.ForecastRun") -> dg.AssetCheckResult:
    """The check `price_response` on the run's curves."""
    from profiteer_pipeline.pricing import curves as price_curves

    verdict = run.verdict
    worst = float(verdict.curves["max_rise"].max()) if verdict.n_curves else 0.0
    return dg.AssetCheckResult(
        check_name="price_response",
        passed=verdict.passed,
        description=price_curves.response_summary(verdict),
        metadata={
            "curves": verdict.n_curves,
            "rising_curves": verdict.n_rising,
            "flat_curves": verdict.n_flat,
            "worst_step_up": worst,
        },
    )
