"""An import's price curves: pure pandas/numpy (no Dagster, no database), shared by `forecast`
(which predicts and writes them), `advice_table` (which reads the advice off them), the app and
the tests.

- Curves: for each product with enough data, `GRID_POINTS` prices across the prices it was sold
  at (the base price added), each predicted for every day of the week after the data with the
  product's demand as known then (`model_features.demand_before`): the units per day are the
  week's mean, as in the week-ahead forecast. Curves only span prices paid: a tree model
  extrapolates flat, which would make any price above the range look best.
- The demand line: a straight line fitted to each curve (`line_fit`, `smoothed` says why), from
  which the advice reads its prices, so the best price is not an artefact of the model's steps.
- Whether a curve falls with the price (`falls`), and the check over all curves
  (`price_response`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from profiteer_pipeline.model import daily_features as mf
from profiteer_pipeline.model import evaluation
from profiteer_pipeline.model.tolerances import (
    ABS_TOLERANCE,
    FALL_MIN_SHARE,
    FALL_MIN_UNITS,
    MAX_FLAT_SHARE,
    REL_TOLERANCE,
)
from profiteer_pipeline.pricing import grid as pricing
from profiteer_pipeline.warehouse.source_tables import CURVE_COLUMNS

GRID_POINTS = 21
#: What one curve is: a product's (the shop's curves by time of day add the bucket).
KEYS = ("product_id",)


def price_grid(ev: pd.DataFrame, products: pd.DataFrame, points: int = GRID_POINTS) -> pd.DataFrame:
    """product_id, price, price_ratio: `points` prices from the product's low to high price paid,
    plus its base price where it lies between them, for each product in `ev` (the shop's grid,
    `pricing.price_grid`, to 4 decimals)."""
    base = products.assign(product_id=products["product_id"].astype(str)).set_index("product_id")
    frames = []
    for row in ev.itertuples(index=False):
        b = float(base.at[row.product_id, "base_price"])
        prices = pricing.price_grid(row.price_low, row.price_high, points, include=(b,), decimals=4)
        frames.append(pd.DataFrame({"product_id": row.product_id, "price": prices}))
        frames[-1]["price_ratio"] = prices / b
    if not frames:
        return pd.DataFrame(columns=["product_id", "price", "price_ratio"])
    return pd.concat(frames, ignore_index=True)


def profile_inputs(grid: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """One model input per grid price x day of the week after the data, with the product's
    category and its demand as known on that week's first day, and the day's weight (1/7)."""
    origin = features[mf.TS_COLUMN].max() + pd.Timedelta(days=1)
    state = mf.demand_before(features, origin).drop(columns="price_ratio")
    days = pd.DataFrame({"day_of_week": range(7), "weight": 1 / 7})
    inputs = grid.merge(days, how="cross").merge(state, left_on="product_id", right_index=True)
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


def falls(
    curve: pd.DataFrame, keys: tuple[str, ...] = KEYS, units: str = "units_per_day"
) -> pd.DataFrame:
    """Per curve (index: `keys`): units per day at the lowest and at the highest price of its
    curve (`at_low`, `at_high`, the model's own predictions, in column `units`) and whether it
    `falls` with the price by the rule of FALL_MIN_UNITS and FALL_MIN_SHARE."""
    ends = curve.sort_values([*keys, "price"]).groupby(list(keys), sort=True).agg(
        price_low=("price", "first"), price_high=("price", "last"),
        at_low=(units, "first"), at_high=(units, "last"),
    )  # fmt: skip
    drop = ends["at_low"] - ends["at_high"]
    ends["falls"] = (drop > FALL_MIN_UNITS) & (drop > FALL_MIN_SHARE * ends["at_low"])
    return ends


def price_response(curve: pd.DataFrame) -> evaluation.PriceResponse:
    """Units per day must not rise with price beyond the tolerance, and most curves must fall
    (`falls`): a few flat curves are products whose demand does not respond to the price, all or
    most of them flat is a model that found no price response. `n_flat` counts curves that do not
    fall by the rule of `falls`."""
    verdict = evaluation.price_response(
        curve, ["product_id"], predicted="units_per_day",
        abs_tolerance=ABS_TOLERANCE, rel_tolerance=REL_TOLERANCE,
    )  # fmt: skip
    fall = falls(curve)["falls"]
    curves = verdict.curves.assign(falls=verdict.curves["product_id"].map(fall).astype(bool))
    n_flat = int((~curves["falls"]).sum())
    return evaluation.PriceResponse(
        passed=verdict.n_rising == 0 and n_flat <= MAX_FLAT_SHARE * verdict.n_curves,
        curves=curves,
        n_curves=verdict.n_curves,
        n_rising=verdict.n_rising,
        n_flat=n_flat,
    )


def response_summary(verdict: evaluation.PriceResponse) -> str:
    """The `price_response` check's description: how many curves rise, how many are flat."""
    flat = (
        f"{verdict.n_flat} of {verdict.n_curves} curves are flat or rising (units at the lowest "
        f"price not more than {FALL_MIN_SHARE:.0%} and {FALL_MIN_UNITS:g} units/day above those "
        "at the highest)"
    )
    if verdict.n_rising:
        return f"{verdict.n_rising} of {verdict.n_curves} curves rise with price beyond tolerance; {flat}"
    if not verdict.passed:
        return f"{flat}: more than {MAX_FLAT_SHARE:.0%}, the model found no price response"
    return f"none of {verdict.n_curves} curves rises with price; {flat}"


def line_fit(
    curve: pd.DataFrame, keys: tuple[str, ...] = KEYS, units: str = "units_per_day"
) -> pd.DataFrame:
    """Per curve (index: `keys`): the straight demand line fitted to it, `units` =
    `intercept` + `slope` x price, where it falls (slope < 0 < intercept); curves that do not
    fall are left out."""
    price = curve["price"].astype(float)
    y = curve[units].astype(float)
    sums = (
        pd.DataFrame({"x": price, "y": y, "xx": price * price, "xy": price * y})
        .assign(n=1.0)
        .groupby([curve[k] for k in keys], sort=True)
        .sum()
    )  # least squares in closed form, every curve at once
    spread = sums["n"] * sums["xx"] - sums["x"] ** 2
    slope = (sums["n"] * sums["xy"] - sums["x"] * sums["y"]) / spread.where(spread > 0)
    intercept = (sums["y"] - slope * sums["x"]) / sums["n"]
    line = pd.DataFrame({"intercept": intercept, "slope": slope})
    return line[(sums["n"] >= 2) & (line["slope"] < 0) & (line["intercept"] > 0)]


def on_line(line: pd.DataFrame, ids: pd.Series | pd.Index, price: np.ndarray) -> np.ndarray:
    """Units at `price` on each curve's line (`ids`: its key per price; never below zero)."""
    fitted = line.reindex(ids if isinstance(ids, pd.Index) else ids.to_numpy())
    return np.clip(fitted["intercept"].to_numpy() + fitted["slope"].to_numpy() * price, 0.0, None)


def smoothed(
    curve: pd.DataFrame, keys: tuple[str, ...] = KEYS, units: str = "units_per_day"
) -> pd.DataFrame:
    """The curve with `fit_units` and `fit_revenue`: a straight demand line fitted to each of
    its curves (`line_fit`; revenue peaks at -intercept / 2 slope), where it falls; the model's
    own values (`units`) where it does not (no price optimum inside the range). This is the one
    smoothing rule: every source's per-product advice and the shop's curves by time of day read
    their prices off it.

    Why a line and not the raw argmax: the model's trees predict in steps at the prices seen in
    training, so revenue rises along each flat step and the raw argmax sits at the edge of a
    step, wherever the steps happen to fall. On the simulated shop (200 products x 4 times of
    day, 48 hours), the prices read off the line capture 99.7 % of the true revenue gain
    attainable within the bounds, against 97.7 % for the monotone smoothing it replaced
    (`benchmarks/bench_recommendations.py --products 200` scores them by the shop's formula)."""
    out = curve.copy()
    out["fit_units"] = out[units].astype(float)
    line = line_fit(curve, keys, units)
    key = pd.MultiIndex.from_frame(out[list(keys)]) if len(keys) > 1 else pd.Index(out[keys[0]])
    has = key.isin(line.index)
    out.loc[has, "fit_units"] = on_line(line, key[has], out.loc[has, "price"].to_numpy(dtype=float))
    out["fit_revenue"] = out["price"].astype(float) * out["fit_units"]
    return out
