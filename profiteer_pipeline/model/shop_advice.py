"""The simulated shop's advice in the contract every source writes (`price_advice`, one row per
product), by the rules an import's advice follows (`advice_table.advice`).

Pure (psycopg2, pandas; no Dagster): `recommendations.refresh` calls it after the hourly curves.

- **The curve**: the model's purchases per hour at each price of a product's grid, for each
  time-of-day bucket's typical traffic, times the bucket's hours in a day, summed: the expected
  units per day at that price. The shop sets one price per product (every hour draws its price
  around the same base), so the advice is per product, like an import's. The curve spans only
  the prices the product sold at, where the model has seen data.
- **The elasticity**: the same Poisson fit as an import's (`elasticity.estimate`), at
  product-hour, with an effect per hour: traffic moves every product's sales by the hour, and
  the hour's effect takes it out. The shop's prices are drawn afresh each hour, so the price a
  customer was offered is the price paid.
- **The evaluation** (`model_evaluation`, as every source's): the latest 24 hours held out at
  product-hour (one fold), against the same hour the day before and the same hour's 7-day mean
  (`shop_backtest`), as `sales_forecast`'s materialization reported them.
- **The rules**: a price only where the model beats the same-hour baselines out of sample, the
  curve falls with the price, the product's own elasticity interval lies below zero and backs
  the direction of the move, within the guardrails and the catalog's price bounds, and the move
  gains at least the guardrails' minimum.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.model import elasticity, evaluation
from profiteer_pipeline.model.figures import METRIC_FIELDS
from profiteer_pipeline.pricing import advice_table, guardrails
from profiteer_pipeline.pricing.curves import CURVE_COLUMNS, price_response

#: The history the elasticities are estimated from: the latest days of `public.sales`.
HISTORY_DAYS = 28

_SALES_SQL = """
SELECT product_id, "timestamp", purchases, current_price
FROM public.sales
WHERE "timestamp" > (SELECT max("timestamp") FROM public.sales) - %(days)s * interval '1 day'
ORDER BY product_id, "timestamp"
"""


def read_sales(conn: PgConnection, days: int = HISTORY_DAYS) -> pd.DataFrame:
    """product_id, timestamp, purchases, current_price of the latest `days` of sales."""
    try:
        with conn.cursor() as cur:
            cur.execute(_SALES_SQL, {"days": days})
            frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    finally:
        conn.rollback()
    return frame.astype({"purchases": float, "current_price": float})


def evidence(sales: pd.DataFrame) -> pd.DataFrame:
    """Per product: the hours it sold in, the distinct prices and their range (what an import's
    `daily_features.evidence` reports), for the notes and the curve's span."""
    by = sales.groupby("product_id", sort=True)
    ev = pd.DataFrame(
        {
            "sale_hours": (sales["purchases"] > 0).groupby(sales["product_id"]).sum(),
            "price_points": by["current_price"].nunique(),
            "price_low": by["current_price"].min(),
            "price_high": by["current_price"].max(),
        }
    ).reset_index()
    return ev.assign(note="")


def daily_curve(
    curves: pd.DataFrame, ev: pd.DataFrame, base: pd.Series, hours_per_day: Mapping[str, int]
) -> pd.DataFrame:
    """`CURVE_COLUMNS` per product: the model's purchases per hour in each bucket
    (`price_curves`' `model_purchases`) times the bucket's hours, summed over the day, at each
    grid price within the prices the product sold at (`ev`); `base` is product_id -> base
    price."""
    hours = curves["time_of_day_bucket"].map(hours_per_day).astype(float)
    day = (
        curves.assign(units_per_day=curves["model_purchases"].astype(float) * hours)
        .groupby(["product_id", "price"], as_index=False)["units_per_day"]
        .sum()
    )
    span = ev.set_index("product_id")
    low = day["product_id"].map(span["price_low"])
    high = day["product_id"].map(span["price_high"])
    day = day[(day["price"] >= low - 1e-9) & (day["price"] <= high + 1e-9)].copy()
    day["price_ratio"] = day["price"] / day["product_id"].map(base).astype(float)
    day["revenue_per_day"] = day["price"] * day["units_per_day"]
    return day[list(CURVE_COLUMNS)].reset_index(drop=True)


def hourly_elasticities(sales: pd.DataFrame) -> elasticity.Elasticities:
    """Each product's elasticity with its 90 % interval and the shop's pooled one, from the
    product-hours, with an effect per hour (and none for a cycle)."""
    panel = pd.DataFrame(
        {
            "product_id": sales["product_id"].astype(str),
            "day": pd.to_datetime(sales["timestamp"], utc=True).dt.tz_convert(None),
            "units": sales["purchases"],
            "offered_price": sales["current_price"],
            elasticity.RESPONSE: sales["purchases"],
        }
    )
    hour, _ = pd.factorize(panel["day"], sort=True)
    return elasticity.estimate(panel, effects=(hour, np.zeros(len(panel), dtype=int)))


def advise(
    curves: pd.DataFrame,
    products: pd.DataFrame,
    sales: pd.DataFrame,
    hours_per_day: Mapping[str, int],
    *,
    model_loses: str | None,
    rails: guardrails.Guardrails = guardrails.DEFAULT,
) -> tuple[pd.DataFrame, pd.DataFrame, elasticity.Elasticities]:
    """The `price_advice` rows (`advice_table.ADVICE_COLUMNS`), the daily curves they read
    (`CURVE_COLUMNS`) and the elasticities, from the
    hourly curves (`price_curves` rows), the catalog (`recommendations.Inputs.products`: bounds,
    today's price, unit costs) and the sales (`read_sales`). `model_loses`: why no price may be
    advised (the model lost to a baseline), else None."""
    ev = evidence(sales)
    by_id = products.set_index("product_id")
    curve = daily_curve(curves, ev, by_id["base_price"], hours_per_day)
    found = hourly_elasticities(sales)
    costs = by_id["unit_cost"].dropna()
    rows = advice_table.advice(
        products[["product_id", "product_name", "category", "base_price"]],
        ev,
        curve,
        model_loses=model_loses,
        elasticities=found.products,
        current=by_id["current_price"],
        rails=rails,
        costs=costs if not costs.empty else None,
        catalog=by_id[["min_price", "max_price"]],
    )
    return rows, curve, found


#: How the shop's model and days were chosen, as `model_evaluation.selection` says it.
SELECTION = (
    "every product-hour of the shop's sales (public.sales_features); the latest 24 hours held "
    "out, forecast by a twin trained without them"
)


def evaluation_row(
    held_out: Mapping[str, object],
    *,
    model: str,
    model_version: int,
    products: int,
    curve: pd.DataFrame,
    pooled: elasticity.Pooled,
) -> pd.DataFrame:
    """The shop's `model_evaluation` row: `held_out` is what the latest `sales_forecast`
    materialization reported (`trained_at`, `training_rows`, `held_out_from`, `held_out_rows`
    and the figures `METRIC_FIELDS`; None where unknown, `no_advice` why the model lost,
    `density` how densely the products sell: `grain.Density.phrase`), `curve` the daily curves
    the price response is checked on."""
    figures = {f: held_out.get(f) for f in METRIC_FIELDS}
    evaluated = any(v is not None for v in figures.values())
    return evaluation.evaluation_row(
        model=model,
        model_version=int(model_version),
        trained_at=pd.Timestamp(held_out["trained_at"]),
        training_rows=int(held_out.get("training_rows") or 0),
        products_modelled=int(products),
        selection="; ".join(filter(None, (SELECTION, held_out.get("density")))),
        held_out_from=pd.Timestamp(held_out.get("held_out_from") or pd.NaT)
        if evaluated
        else pd.NaT,
        held_out_rows=int(held_out.get("held_out_rows") or 0) if evaluated else 0,
        folds=1 if evaluated else 0,
        **figures,
        beats_baseline=evaluated and not held_out.get("no_advice"),
        price_response_ok=bool(not curve.empty and price_response(curve).passed),
        pooled_elasticity=pooled.elasticity,
        pooled_elasticity_low=pooled.low,
        pooled_elasticity_high=pooled.high,
        elasticity_products=pooled.products,
    )
