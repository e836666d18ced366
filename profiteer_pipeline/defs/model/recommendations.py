"""`price_recommendations`: the best price of every product × time-of-day bucket, after each training.

The model's what-if curves over a fine price grid, predicted in batches (one MindsDB call for
the default catalog), read off their demand line (the one smoothing rule), and the advice within
the shop's guardrails (`.profiteer/guardrails.toml`) with its uncertainty from the
model's held-out error (the `sales_forecast` materialization's `held_out_rmse` and
`held_out_mean_purchases`). Stored in `analytics.price_curves`, `analytics.price_recommendations`,
`analytics.price_observations` (the observed evidence), `analytics.sales_forecast_hourly` (the
next 24 hours) and the log `analytics.price_recommendation_runs`
(`profiteer_pipeline/warehouse/recommendation_tables.py`); the app reads them, so it never waits on a
cold model. The computation itself is `profiteer_pipeline/model/recommendations.py`.
"""

import math
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import dagster as dg

from profiteer_pipeline import previews
from profiteer_pipeline.defs.automation.conditions import after_training
from profiteer_pipeline.defs.metrics.assets import key as metric_key
from profiteer_pipeline.defs.model.advice_metadata import advice_metadata
from profiteer_pipeline.defs.model.assets import MODEL_KEY, SPEC
from profiteer_pipeline.defs.model.resources import MindsDBResource
from profiteer_pipeline.defs.warehouse.resources import PostgresResource
from profiteer_pipeline.model.figures import HOURLY, METRIC_FIELDS
from profiteer_pipeline.pricing.advice import GRID_POINTS
from profiteer_pipeline.warehouse import recommendation_tables as pt

if TYPE_CHECKING:
    import pandas as pd  # the refresh (pandas, numpy) is imported where it runs

    from profiteer_pipeline.pricing.guardrails import Guardrails

KEY = dg.AssetKey("price_recommendations")
TOP = 10
_TABLES = [*pt.DECLARED, *pt.PER_PRODUCT.values()]


class RecommendationConfig(dg.Config):
    grid_points: int = GRID_POINTS


def held_out_error(instance: dg.DagsterInstance) -> dict[str, object]:
    """The latest training's held-out figures (None where it had too few hours to evaluate), when
    and on how many rows it trained, how densely the products sold, and `no_advice`: why no
    price may be advised (the model lost to a baseline, or was not evaluated), else None."""
    from profiteer_pipeline.pricing.advice_table import no_advice_reason

    event = instance.get_latest_materialization_event(MODEL_KEY)
    meta = event.asset_materialization.metadata if event and event.asset_materialization else {}

    def num(name: str) -> float | None:
        value = getattr(meta.get(name), "value", None)
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None

    out: dict[str, object] = {
        n: num(f"held_out_{n}") for n in ("r2", "mae", "rmse", "mean_purchases")
    } | {n: num(n) for n in METRIC_FIELDS}
    text = {
        k: getattr(meta.get(k), "value", None)
        for k in ("held_out_from", "training_rows", "density")
    }
    out |= {
        "trained_at": datetime.fromtimestamp(event.timestamp, UTC) if event else None,
        "training_rows": text["training_rows"],
        "held_out_from": text["held_out_from"],
        "density": text["density"],
        "held_out_rows": num("held_out_rows"),
    }
    rmse, mean = out["rmse"], out["mean_purchases"]
    out["relative_error"] = rmse / mean if rmse is not None and mean else None
    out["no_advice"] = no_advice_reason({f: out[f] for f in METRIC_FIELDS}, HOURLY)
    return out


def _column_schema(table: pt.MetricTable) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[dg.TableColumn(c.name, c.type, description=c.doc or None) for c in table.columns]
    )


@dg.asset(
    key=KEY,
    group_name="model",
    deps=[MODEL_KEY, metric_key("avg_purchases_by_bucket"), dg.AssetKey("products")],
    kinds={"mindsdb", "postgres"},
    automation_condition=after_training(MODEL_KEY),
    check_specs=[
        dg.AssetCheckSpec(
            "recommendations_sound",
            asset=KEY,
            description="Every product × time of day has a curve of at least "
            f"{GRID_POINTS} prices and a best price inside its [min_price, max_price]; a "
            "recommended change reads a curve that never rises with the price and gains more "
            "than its error band.",
        )
    ],
    description="Best price per product × time-of-day bucket from the model's curves over "
    f"{GRID_POINTS}+ prices in [min_price, max_price] (plus base and current): expected revenue "
    "(or profit, with a unit cost) per hour, the gain over the current price, an uncertainty band "
    "from the held-out error (a gain within it: no change recommended), within the shop's "
    "guardrails. "
    f"Tables: {', '.join(t.qualified_name for t in _TABLES)}; per product, as every source: "
    "the advice with the guardrail and the elasticity's interval.",
    metadata={
        "dagster/column_schema": _column_schema(pt.PRICE_RECOMMENDATIONS),
        "tables": ", ".join(t.qualified_name for t in _TABLES),
    },
)
def price_recommendations(
    context: dg.AssetExecutionContext,
    config: RecommendationConfig,
    mindsdb: MindsDBResource,
    warehouse: PostgresResource,
) -> dg.MaterializeResult:
    from profiteer_pipeline.defs.model import guardrails
    from profiteer_pipeline.model import recommendations as recs
    from profiteer_pipeline.model import training

    t0 = time.perf_counter()
    rails = guardrails.load(context)
    error = held_out_error(context.instance)
    if error["relative_error"] is None:
        context.log.warning("no held-out error from the latest training: gains are unrated")
    if error["no_advice"]:
        context.log.warning(f"no price is advised: {error['no_advice']}")
    with warehouse.connect() as conn, mindsdb.session() as client:
        active = client.active(SPEC.name, SPEC.project)
        result, run, counts = recs.refresh(
            conn,
            lambda rows: training.predict_frame(client, SPEC, rows).to_numpy(),
            SPEC.features,
            model=SPEC.qualified_name,
            model_version=active.version if active else None,
            error=error,
            points=config.grid_points,
            rails=rails,
        )
    context.log.info(
        f"{run['curves']} curves, {result.predictions} predictions in {result.calls} MindsDB "
        f"call(s), {time.perf_counter() - t0:.1f} s ({', '.join(f'{k} {v:.2f}' for k, v in result.timings.items())})"
    )
    context.log.info(f"per product: {advice_summary(result.advice)}; {result.pooled.summary()}")
    return dg.MaterializeResult(
        metadata={
            **_metadata(result.recommendations, run, counts, rails),
            **advice_metadata(result.advice, result.pooled),
        },
        check_results=[soundness(result.curves, result.recommendations, config.grid_points)],
    )


def soundness(curves: "pd.DataFrame", r: "pd.DataFrame", points: int) -> dg.AssetCheckResult:
    """The check `recommendations_sound` over what this run stored."""
    per = curves.groupby(["product_id", "time_of_day_bucket"])
    short = int((per.size() < points).sum())
    rises = per["purchases"].apply(lambda q: bool((q.diff().dropna() > 1e-9).any()))
    changes = r.set_index(["product_id", "time_of_day_bucket"])["confidence"] != "no change"
    rising = int((rises & changes.reindex(rises.index, fill_value=False)).sum())
    outside = int(((r["best_price"] < r["min_price"]) | (r["best_price"] > r["max_price"])).sum())
    act = r[r["confidence"].isin(["high", "medium"])]
    noisy = int((act["gain_per_hour"] <= act["band_per_hour"]).sum())
    problems = {"short_curves": short, "rising_curves": rising, "best_outside_bounds": outside,
                "changes_within_band": noisy}  # fmt: skip
    bad = {k: v for k, v in problems.items() if v}
    return dg.AssetCheckResult(
        check_name="recommendations_sound",
        passed=not bad,
        metadata={**problems, "curves": len(r)},
        description="all sound" if not bad else ", ".join(f"{k}: {v}" for k, v in bad.items()),
    )


def _metadata(r: "pd.DataFrame", run: dict, counts: dict, rails: "Guardrails") -> dict:
    act = r[r["confidence"].isin(["high", "medium"])]
    band = math.sqrt(float((act["band_per_day"].fillna(0) ** 2).sum()))
    top = r[r["confidence"] != "no change"].sort_values("gain_per_day", ascending=False).head(TOP)
    cols = ["product_id", "time_of_day_bucket", "current_price", "best_price", "gain_per_hour",
            "gain_pct", "band_per_hour", "gain_per_day", "confidence", "guardrail"]  # fmt: skip
    meta: dict[str, object] = {
        "curves": run["curves"],
        "predictions": run["predictions"],
        "mindsdb_calls": run["mindsdb_calls"],
        "seconds": dg.MetadataValue.float(run["seconds"]),
        "model_version": run["model_version"] if run["model_version"] is not None else "",
        "guardrails": rails.describe(),
        "objective": ", ".join(sorted(r["objective"].unique())) if not r.empty else "",
        "held_out_relative_error": dg.MetadataValue.float(float(run["relative_error"] or math.nan)),
        "changes_recommended": int(len(act)),
        "gain_per_day_if_all_applied": dg.MetadataValue.float(round(float(act["gain_per_day"].sum()), 2)),
        "gain_per_day_band": dg.MetadataValue.float(round(band, 2)),
        "rows": dg.MetadataValue.json({k: int(v) for k, v in counts.items()}),
        "top_changes": dg.MetadataValue.md(previews.markdown_table(top[cols].round(2), TOP)),
    }  # fmt: skip
    if not top.empty:
        labels = top["product_id"] + " " + top["time_of_day_bucket"]
        meta["top_changes_chart"] = dg.MetadataValue.md(
            previews.gain_chart(
                labels, top["gain_per_day"], top["band_per_day"], f"Top {TOP} changes by gain"
            )
        )
    return meta


def advice_summary(advice: "pd.DataFrame") -> str:
    """How many products got each status of `price_advice`."""
    counts = advice["status"].value_counts()
    return ", ".join(f"{int(n)} {status}" for status, n in counts.items()) or "no products"
