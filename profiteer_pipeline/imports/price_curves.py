"""An import's price curves and the advice read off them: pure pandas/numpy (no Dagster, no
database), shared by `forecast` (which predicts and writes them), the app and the tests.

- Curves: for each product with enough data, `GRID_POINTS` prices across the prices it was sold
  at (the base price added), each predicted for 24 hours of a weekday and of a weekend day with
  the product's recent demand; a day is 5/7 weekday + 2/7 weekend. Curves only span prices paid:
  a tree model extrapolates flat, which would make any price above the range look best.
- Advice: the best price, and units and revenue at the base and the best price, read off a
  straight demand line fitted to each curve (`smoothed` says why), so the uplift is never
  negative and the best price is not an artefact of the model's steps.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiteer_pipeline.imports import model_features as mf
from profiteer_pipeline.model import evaluation

GRID_POINTS = 21
#: Representative days: Wednesday for the weekdays, Saturday for the weekend (pandas: Monday=0).
PROFILE_DAYS = {2: 5 / 7, 5: 2 / 7}
#: lightwood's whole-unit rounding and tree steps: a curve may rebound by 1 unit per day plus
#: 5 % of its peak before it counts as rising (the tolerance of the simulated shop's check).
ABS_TOLERANCE = evaluation.ABS_TOLERANCE
REL_TOLERANCE = evaluation.REL_TOLERANCE

CURVE_COLUMNS = {
    "product_id": "text NOT NULL",
    "price": "numeric(18, 4) NOT NULL",
    "price_ratio": "double precision NOT NULL",
    "units_per_day": "double precision NOT NULL",
    "revenue_per_day": "double precision NOT NULL",
}
ADVICE_COLUMNS = {
    "product_id": "text NOT NULL",
    "product_name": "text",
    "category": "text",
    "base_price": "numeric(18, 4) NOT NULL",
    "best_price": "numeric(18, 4)",
    "units_per_day_at_base": "double precision",
    "units_per_day_at_best": "double precision",
    "revenue_per_day_at_base": "double precision",
    "revenue_per_day_at_best": "double precision",
    "revenue_uplift_pct": "double precision",
    "sale_hours": "integer NOT NULL",
    "price_points": "integer NOT NULL",
    "status": "text NOT NULL CHECK (status IN ('advice', 'too_little_data'))",
    "note": "text NOT NULL",
}


def price_grid(ev: pd.DataFrame, products: pd.DataFrame, points: int = GRID_POINTS) -> pd.DataFrame:
    """product_id, price, price_ratio: `points` prices from the product's low to high price paid,
    plus its base price, for each product in `ev` (rounded to 4 decimals, unique)."""
    base = products.assign(product_id=products["product_id"].astype(str)).set_index("product_id")
    frames = []
    for row in ev.itertuples(index=False):
        b = float(base.at[row.product_id, "base_price"])
        prices = np.round(np.append(np.linspace(row.price_low, row.price_high, points), b), 4)
        prices = np.unique(prices)
        frames.append(pd.DataFrame({"product_id": row.product_id, "price": prices}))
        frames[-1]["price_ratio"] = prices / b
    if not frames:
        return pd.DataFrame(columns=["product_id", "price", "price_ratio"])
    return pd.concat(frames, ignore_index=True)


def profile_inputs(grid: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """One model input per grid price x hour of day x profile day, with the product's category
    and its recent demand (the mean of each lag over its latest 7 days), and the day's weight."""
    last = features.groupby("product_id")[mf.TS_COLUMN].transform("max")
    recent = features[features[mf.TS_COLUMN] > last - pd.Timedelta(days=7)]
    state = recent.groupby("product_id").agg(
        category=("category", "first"), **{lag: (lag, "mean") for lag in mf.LAGS}
    )
    hours = pd.DataFrame(
        [(h, d, w) for d, w in PROFILE_DAYS.items() for h in range(24)],
        columns=["hour_of_day", "day_of_week", "weight"],
    )
    inputs = grid.merge(hours, how="cross").merge(state, left_on="product_id", right_index=True)
    return inputs.reset_index(drop=True)


def curves(inputs: pd.DataFrame, predicted: pd.Series) -> pd.DataFrame:
    """price_curves rows: expected units and revenue per day at each price (negative
    predictions count as zero)."""
    day = inputs.assign(units=predicted.clip(lower=0.0).to_numpy() * inputs["weight"])
    out = day.groupby(["product_id", "price"], as_index=False).agg(
        price_ratio=("price_ratio", "first"), units_per_day=("units", "sum")
    )
    out["revenue_per_day"] = out["price"] * out["units_per_day"]
    return out[list(CURVE_COLUMNS)]


def price_response(curve: pd.DataFrame) -> evaluation.PriceResponse:
    """Units per day must not rise with price beyond the tolerance (flat is allowed: a product
    whose demand does not respond to price has a flat curve). `passed` counts rising curves only."""
    verdict = evaluation.price_response(
        curve, ["product_id"], predicted="units_per_day",
        abs_tolerance=ABS_TOLERANCE, rel_tolerance=REL_TOLERANCE,
    )  # fmt: skip
    return evaluation.PriceResponse(
        passed=verdict.n_rising == 0,
        curves=verdict.curves,
        n_curves=verdict.n_curves,
        n_rising=verdict.n_rising,
        n_flat=verdict.n_flat,
    )


def smoothed(curve: pd.DataFrame) -> pd.DataFrame:
    """The curve with `fit_units` and `fit_revenue` per day: a straight demand line fitted to
    each product's curve (units per day = a + b x price, so revenue peaks at -a / 2b), where it
    falls; the model's own values where it does not (b >= 0: no price optimum inside the range).

    Why the advice uses the line and not the raw argmax: lightwood's tree mixers predict in
    steps at the prices seen in training, so revenue rises along each flat step and the raw
    argmax sits at the edge of a step, wherever the steps happen to fall."""
    out = curve.copy()
    out["fit_units"] = out["units_per_day"].astype(float)
    for _, part in curve.groupby("product_id", sort=False):
        price = part["price"].to_numpy(dtype=float)
        if len(part) < 2:
            continue
        slope, intercept = np.polyfit(price, part["units_per_day"].to_numpy(dtype=float), 1)
        if slope < 0 and intercept > 0:
            out.loc[part.index, "fit_units"] = np.clip(intercept + slope * price, 0.0, None)
    out["fit_revenue"] = out["price"].astype(float) * out["fit_units"]
    return out


def advice(
    products: pd.DataFrame,
    ev: pd.DataFrame,
    curve: pd.DataFrame,
    skipped: tuple[str, ...] = (),
    skipped_reason: str = "",
) -> pd.DataFrame:
    """price_advice: one row per product; the best price where it has a curve, else why not."""
    prod = products.assign(product_id=products["product_id"].astype(str))
    out = prod[["product_id", "product_name", "category", "base_price"]].merge(
        ev[["product_id", "sale_hours", "price_points", "price_low", "price_high", "note"]],
        on="product_id",
        how="left",
    )
    out["base_price"] = pd.to_numeric(out["base_price"]).astype(float)
    for column in list(ADVICE_COLUMNS)[4:10]:
        out[column] = np.nan
    out["status"] = "too_little_data"
    if not curve.empty:
        fit = smoothed(curve)
        best = fit.loc[fit.groupby("product_id")["fit_revenue"].idxmax()].set_index("product_id")
        at_base = fit.merge(out[["product_id", "base_price"]], on="product_id")
        at_base = at_base.loc[(at_base["price"] - at_base["base_price"]).abs().groupby(
            at_base["product_id"]).idxmin()].set_index("product_id")  # fmt: skip
        has = out["product_id"].isin(best.index)
        ids = out.loc[has, "product_id"]
        out.loc[has, "best_price"] = best["price"].reindex(ids).to_numpy()
        for where, frame in (("best", best), ("base", at_base)):
            out.loc[has, f"units_per_day_at_{where}"] = frame["fit_units"].reindex(ids).to_numpy()
            out.loc[has, f"revenue_per_day_at_{where}"] = (
                frame["fit_revenue"].reindex(ids).to_numpy()
            )
        rb = out["revenue_per_day_at_base"]
        out["revenue_uplift_pct"] = np.where(
            has & (rb > 0), (out["revenue_per_day_at_best"] / rb - 1.0) * 100.0, np.nan
        )
        out.loc[has, "status"] = "advice"
        out.loc[has, "note"] = [
            f"Curve from {int(h)} hours with sales at {int(n)} prices between "
            f"{lo:.2f} and {hi:.2f}; predicted revenue per day is highest near {p:.2f}."
            for h, n, lo, hi, p in zip(
                out.loc[has, "sale_hours"], out.loc[has, "price_points"],
                out.loc[has, "price_low"], out.loc[has, "price_high"], out.loc[has, "best_price"],
                strict=True,
            )
        ]  # fmt: skip
    leftover = out["status"].eq("too_little_data") & out["product_id"].isin(skipped)
    out.loc[leftover, "note"] = (
        "Enough data, but not modelled in this training: " + skipped_reason + "."
    )
    unexplained = out["status"].eq("too_little_data") & (out["note"].fillna("") == "")
    out.loc[unexplained, "note"] = "Too little data for a price curve."
    out["sale_hours"] = out["sale_hours"].fillna(0).astype(int)
    out["price_points"] = out["price_points"].fillna(0).astype(int)
    return out[list(ADVICE_COLUMNS)].sort_values("product_id").reset_index(drop=True)
