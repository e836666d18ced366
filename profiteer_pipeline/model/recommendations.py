"""Price recommendations for the whole catalog: the model's curves, batched, and the advice.

Pure (psycopg2, pandas; no Dagster): the `price_recommendations` asset, the tests and the
benchmark call it. For every product × time-of-day bucket it builds the what-if inputs
(`profile.whatif_profile`, the one way) over a fine price grid (`pricing.grid.price_grid`: 41+
prices plus the base and current prices), asks the model in batches of whole products (one call
for the default catalog), smooths each curve by the one rule (`curves.smoothed`: the demand line
where it falls) and advises (`advice.advise`).
The results are the rows of the tables declared in `warehouse/recommendation_tables.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.model import elasticity, shop_advice
from profiteer_pipeline.model import features as feat
from profiteer_pipeline.model.profile import read_profiles
from profiteer_pipeline.pricing import advice, advice_table, curves, evidence, guardrails
from profiteer_pipeline.pricing.grid import price_grid
from profiteer_pipeline.synth.time_of_day import HOURS_PER_DAY, bucket_of_hour
from profiteer_pipeline.warehouse import recommendation_tables as pt

#: At most this many rows per prediction call (whole products per call).
MAX_ROWS_PER_CALL = 20_000

Predict = Callable[[pd.DataFrame], np.ndarray]

_PRODUCTS_SQL = """
SELECT p.product_id, p.product_name, p.category, p.base_price, p.min_price, p.max_price,
       last.current_price, last."timestamp" AS latest_hour
FROM public.products p
LEFT JOIN LATERAL (
    SELECT s.current_price, s."timestamp" FROM public.sales s
    WHERE s.product_id = p.product_id ORDER BY s."timestamp" DESC LIMIT 1
) last ON true
ORDER BY p.product_id
"""
_HAS_COST_SQL = (
    "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
    " AND table_name = 'products' AND column_name = 'unit_cost'"
)


@dataclass
class Inputs:
    """What the computation needs from the warehouse."""

    profiles: pd.DataFrame  # profile.PROFILE_COLUMNS, one row per product × bucket
    products: pd.DataFrame  # product_id, name, category, prices, current_price, unit_cost
    latest_hour: datetime | None


def read_inputs(conn: PgConnection) -> Inputs:
    """The profiles (`read_profiles`), each product's bounds, latest price and unit cost (when
    `public.products` has a `unit_cost` column), read in one read-only pass."""
    profiles, _ = read_profiles(conn)
    try:
        with conn.cursor() as cur:
            cur.execute(_PRODUCTS_SQL)
            products = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
            cur.execute(_HAS_COST_SQL)
            if cur.fetchone():
                cur.execute("SELECT product_id, unit_cost FROM public.products")
                costs = dict(cur.fetchall())
            else:
                costs = {}
    finally:
        conn.rollback()
    products["unit_cost"] = products["product_id"].map(costs)
    for col in ("base_price", "min_price", "max_price", "current_price", "unit_cost"):
        products[col] = pd.to_numeric(products[col], errors="coerce").astype(float)
    products["current_price"] = products["current_price"].fillna(products["base_price"])
    latest = products["latest_hour"].dropna()
    return Inputs(profiles, products, None if latest.empty else latest.max().to_pydatetime())


def build_grid(inputs: Inputs, features: tuple[str, ...], points: int) -> pd.DataFrame:
    """Model inputs for every profile over its product's fine grid, with the keys beside them
    (`product_id`, `time_of_day_bucket`, `price`, `is_base`, `is_current`)."""
    by_id = inputs.products.set_index("product_id")
    frames = []
    for row in inputs.profiles.to_dict("records"):
        if row["product_id"] not in by_id.index:
            continue
        p = by_id.loc[row["product_id"]]
        base, cur = float(p["base_price"]), float(p["current_price"])
        grid = price_grid(p["min_price"], p["max_price"], points, include=(base, cur))
        rows = feat.model_inputs(row, grid, features)
        keys = pd.DataFrame(
            {
                "product_id": row["product_id"],
                "bucket": row["time_of_day_bucket"],
                "is_base": np.isclose(grid, round(base, 2)),
                "is_current": np.isclose(grid, round(cur, 2)),
            }
        )
        frames.append(pd.concat([keys, rows.reset_index(drop=True)], axis=1))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)


def predict_batches(
    grid: pd.DataFrame,
    features: tuple[str, ...],
    predict: Predict,
    max_rows: int = MAX_ROWS_PER_CALL,
) -> tuple[np.ndarray, int]:
    """Predicted purchases for every grid row, in calls of whole products of at most `max_rows`
    rows (a product larger than that is one call). Returns (values, number of calls)."""
    out = np.empty(len(grid))
    sizes = grid.groupby("product_id", sort=False).size()
    chunks: list[list[str]] = [[]]
    rows = 0
    for pid, n in sizes.items():
        if chunks[-1] and rows + n > max_rows:
            chunks.append([])
            rows = 0
        chunks[-1].append(pid)
        rows += n
    for ids in chunks:
        mask = grid["product_id"].isin(ids).to_numpy()
        values = np.asarray(predict(grid.loc[mask, list(features)]), dtype=float)
        if values.shape != (int(mask.sum()),) or not np.isfinite(values).all():
            raise ValueError(f"the model returned {values.shape} values for {mask.sum()} rows")
        out[mask] = np.clip(values, 0, None)
    return out, len(chunks)


@dataclass
class Result:
    curves: pd.DataFrame
    recommendations: pd.DataFrame
    forecast: pd.DataFrame
    predictions: int = 0
    calls: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    advice: pd.DataFrame = field(default_factory=pd.DataFrame)  # price_advice: per product
    pooled: elasticity.Pooled | None = None  # the shop's pooled elasticity


#: What one of the shop's curves by time of day is: a product's in one bucket.
BUCKET_KEYS = ("product_id", "bucket")


def smoothed_by_bucket(grid: pd.DataFrame) -> pd.DataFrame:
    """The grid's predictions (`model_purchases`, per hour) with `fit_units`: each product and
    bucket's curve on the one smoothing rule (`curves.smoothed`, the demand line where it
    falls), as every source's per-product advice reads its own."""
    return curves.smoothed(grid, BUCKET_KEYS, units="model_purchases")


def bucket_falls(grid: pd.DataFrame) -> pd.Series:
    """(product_id, bucket) -> whether the curve falls with the price by the rule every source's
    curves answer to (`curves.falls`), on the bucket's units per day (purchases per hour times
    its hours in a day)."""
    per_day = grid["model_purchases"] * grid["bucket"].map(HOURS_PER_DAY).astype(float)
    return curves.falls(grid.assign(units_per_day=per_day), BUCKET_KEYS)["falls"]


def advise_all(
    grid: pd.DataFrame,
    predicted: np.ndarray,
    inputs: Inputs,
    *,
    rails: guardrails.Guardrails,
    rel_error: float | None,
    computed_at: datetime,
    model_version: int | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The `price_curves` and `price_recommendations` rows from the grid's predictions: each
    curve's best price within the product's bounds (the prices the shop draws from) and the
    shop's `rails`, as every source's per-product advice is held."""
    by_id = inputs.products.set_index("product_id")
    hours = inputs.profiles.set_index(["product_id", "time_of_day_bucket"])["hours"]
    g = smoothed_by_bucket(grid.assign(model_purchases=predicted))
    falling = bucket_falls(g)
    curve_rows, recs = [], []
    for (pid, bucket), c in g.groupby(list(BUCKET_KEYS), sort=True):
        p = by_id.loc[pid]
        prices = c["price"].to_numpy(dtype=float)
        raw = c["model_purchases"].to_numpy(dtype=float)
        smooth = c["fit_units"].to_numpy(dtype=float)
        cost = None if pd.isna(p["unit_cost"]) else float(p["unit_cost"])
        a = advice.advise(
            prices, smooth, min_price=p["min_price"], max_price=p["max_price"],
            current_price=p["current_price"], rails=rails, unit_cost=cost,
            rel_error=rel_error, model_purchases=raw, falls=bool(falling[(pid, bucket)]),
        )  # fmt: skip
        none = np.full(len(prices), np.nan)  # NULL in the table
        err = None if rel_error is None else rel_error * smooth
        curve_rows.append(
            pd.DataFrame(
                {
                    "product_id": pid,
                    "time_of_day_bucket": bucket,
                    "price": prices,
                    "model_purchases": raw,
                    "purchases": smooth,
                    "purchases_low": none if err is None else np.clip(smooth - err, 0, None),
                    "purchases_high": none if err is None else smooth + err,
                    "revenue": prices * smooth,
                    "profit": none if cost is None else (prices - cost) * smooth,
                    "is_base": c["is_base"].to_numpy(),
                    "is_current": c["is_current"].to_numpy(),
                    "computed_at": computed_at,
                }
            )
        )
        per_day = HOURS_PER_DAY.get(bucket, 0)
        base_q = float(np.interp(p["base_price"], prices, smooth))
        recs.append(
            {
                "product_id": pid,
                "time_of_day_bucket": bucket,
                "product_name": p["product_name"],
                "category": p["category"],
                "hours_per_day": per_day,
                "min_price": float(p["min_price"]),
                "max_price": float(p["max_price"]),
                "base_price": float(p["base_price"]),
                "current_price": a.current_price,
                "unit_cost": cost,
                "objective": a.objective,
                "best_price": a.best_price,
                "recommended_price": a.recommended_price,
                "best_purchases": a.best_purchases,
                "current_purchases": a.current_purchases,
                "best_revenue": a.best_revenue,
                "current_revenue": a.current_revenue,
                "base_revenue": float(p["base_price"]) * base_q,
                "gain_per_hour": a.gain,
                "gain_pct": a.gain_pct,
                "band_per_hour": a.band,
                "gain_per_day": a.gain * per_day,
                "band_per_day": None if a.band is None else a.band * per_day,
                "confidence": a.confidence,
                "note": a.no_change_reason,
                "guardrail": a.guardrail,
                "elasticity": advice.elasticity(prices, smooth, a.current_price),
                "smoothing_error": a.smoothing_error,
                "jagged": a.jagged,
                "observed_hours": int(hours.get((pid, bucket), 0) or 0),
                "model_version": model_version,
                "computed_at": computed_at,
            }
        )
    return (
        pd.concat(curve_rows, ignore_index=True) if curve_rows else pd.DataFrame()
    ), pd.DataFrame(recs)


def forecast_24h(
    recs: pd.DataFrame, after: datetime | None, computed_at: datetime, model_version: int | None
) -> pd.DataFrame:
    """The next 24 hours after `after`: Σ over products of the predicted purchases and revenue
    per hour at the current price, in each hour's bucket."""
    if after is None or recs.empty:
        return pd.DataFrame()
    per_bucket = recs.groupby("time_of_day_bucket")[["current_purchases", "current_revenue"]].sum()
    rows = []
    for i in range(1, 25):
        hour = after + timedelta(hours=i)
        bucket = bucket_of_hour(hour.hour)
        q, r = per_bucket.loc[bucket] if bucket in per_bucket.index else (0.0, 0.0)
        rows.append(
            {
                "hour": hour,
                "hour_of_day": hour.hour,
                "time_of_day_bucket": bucket,
                "purchases": float(q),
                "revenue": float(r),
                "model_version": model_version,
                "computed_at": computed_at,
            }
        )
    return pd.DataFrame(rows)


def compute(
    inputs: Inputs,
    features: tuple[str, ...],
    predict: Predict,
    *,
    rails: guardrails.Guardrails = guardrails.DEFAULT,
    points: int = advice.GRID_POINTS,
    rel_error: float | None = None,
    computed_at: datetime,
    model_version: int | None = None,
    max_rows: int = MAX_ROWS_PER_CALL,
) -> Result:
    """Grid, batched predictions, advice and the 24-hour forecast for every product × bucket."""
    t0 = time.perf_counter()
    grid = build_grid(inputs, features, points)
    if grid.empty:
        raise ValueError("no product has a what-if profile yet: refresh the metrics first")
    t1 = time.perf_counter()
    predicted, calls = predict_batches(grid, features, predict, max_rows)
    t2 = time.perf_counter()
    curve_rows, recs = advise_all(
        grid, predicted, inputs, rails=rails, rel_error=rel_error,
        computed_at=computed_at, model_version=model_version,
    )  # fmt: skip
    forecast = forecast_24h(recs, inputs.latest_hour, computed_at, model_version)
    t3 = time.perf_counter()
    timings = {"grid_s": t1 - t0, "predict_s": t2 - t1, "advice_s": t3 - t2}
    return Result(curve_rows, recs, forecast, len(grid), calls, t3 - t0, timings)


def withheld(recs: pd.DataFrame, note: str | list[str], where: np.ndarray | None = None) -> None:
    """No price advised (in place) for the rows `where` (all when None): each keeps its current
    price, its gain stays in the table for people to see, its confidence is `no change`, and
    `note` says why (one for all, or one per row)."""
    rows = np.ones(len(recs), dtype=bool) if where is None else where
    recs.loc[rows, "recommended_price"] = recs.loc[rows, "current_price"]
    recs.loc[rows, "confidence"] = "no change"
    recs.loc[rows, "note"] = note


def withhold_unsupported(recs: pd.DataFrame, products: pd.DataFrame) -> None:
    """The evidence rule every source's advice answers to, per time of day (in place): a move
    stands only where the product's own elasticity interval lies below zero and backs the move's
    direction (`evidence.unsupported`, as for every source's advice per product); the others
    keep today's price, and `note` says why. `products`: the product elasticities
    (`elasticity.Elasticities.products`)."""
    moves = recs[["product_id", "best_price", "current_price", "unit_cost", "objective"]]
    ev = advice_table.with_elasticity(moves.astype({"product_id": str}), products)
    unbacked, notes, _ = evidence.unsupported(ev, (recs["confidence"] != "no change").to_numpy())
    if notes:
        withheld(recs, notes, unbacked)


def refresh(
    conn: PgConnection,
    predict: Predict,
    features: tuple[str, ...],
    *,
    model: str,
    model_version: int | None,
    error: Mapping[str, Any],
    points: int = advice.GRID_POINTS,
    max_rows: int = MAX_ROWS_PER_CALL,
    rails: guardrails.Guardrails = guardrails.DEFAULT,
) -> tuple[Result, dict, dict[str, int]]:
    """Compute everything and replace the tables (`recommendation_tables.replace_all`), in one go:
    the asset, the app's test fixtures and the benchmark all call this. `error` holds the model's
    held-out `r2`, `mae`, `rmse`, `mean_purchases`, `relative_error` and the figures against the
    baselines (None: unknown), when it was trained and on how many rows (`trained_at`,
    `training_rows`, `held_out_from`, `held_out_rows`: the evaluation every source stores), and
    `no_advice`: why no price may be advised, if the model lost
    to a baseline; then every curve keeps its current price, and the evaluation says why. The
    per-product advice every source writes (`price_advice`, `shop_advice`) follows from the
    curves, within `rails`. Returns the result, the runs-log row and the row counts."""
    t0 = time.perf_counter()
    computed_at = datetime.now(UTC)
    pt.ensure_tables(conn)
    inputs = read_inputs(conn)
    result = compute(
        inputs, features, predict, rails=rails, points=points,
        rel_error=error.get("relative_error"), computed_at=computed_at,
        model_version=model_version, max_rows=max_rows,
    )  # fmt: skip
    reason = error.get("no_advice")
    if reason:
        withheld(result.recommendations, reason)
    result.advice, daily, found = shop_advice.advise(
        result.curves, inputs.products, shop_advice.read_sales(conn), HOURS_PER_DAY,
        model_loses=reason or None, rails=rails,
    )  # fmt: skip
    result.pooled = found.pooled
    withhold_unsupported(result.recommendations, found.products)
    run = {
        "computed_at": computed_at,
        "model": model,
        "model_version": model_version,
        **{f"held_out_{k}": error.get(k) for k in ("r2", "mae", "rmse", "mean_purchases")},
        "relative_error": error.get("relative_error"),
        "grid_points": points,
        "curves": len(result.recommendations),
        "predictions": result.predictions,
        "mindsdb_calls": result.calls,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    frames = {
        "price_curves": result.curves,
        "price_recommendations": result.recommendations,
        "sales_forecast_hourly": result.forecast,
    }
    per_product = {"price_advice": result.advice, "price_curves": daily}
    if model_version is not None:  # else no model: no evaluation (the page says so)
        per_product["model_evaluation"] = shop_advice.evaluation_row(
            {**error, "trained_at": error.get("trained_at") or computed_at}, model=model, model_version=model_version,
            products=len(inputs.products), curve=daily, pooled=found.pooled,
        )  # fmt: skip
    counts = pt.replace_all(conn, frames, run, per_product)
    return result, run, counts
