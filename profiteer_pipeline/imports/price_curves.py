"""An import's price curves and the advice read off them: pure pandas/numpy (no Dagster, no
database), shared by `forecast` (which predicts and writes them), the app and the tests.

- Curves: for each product with enough data, `GRID_POINTS` prices across the prices it was sold
  at (the base price added), each predicted for 24 hours of a weekday and of a weekend day with
  the product's recent demand; a day is 5/7 weekday + 2/7 weekend. Curves only span prices paid:
  a tree model extrapolates flat, which would make any price above the range look best.
- Advice: the best price, and units and revenue at the base and the best price, read off a
  straight demand line fitted to each curve (`smoothed` says why), so the uplift is never
  negative and the best price is not an artefact of the model's steps.
- The rule: a model is only as good as the baseline it beats. A product gets a best price only
  when the model beat the product's 28-day mean out of sample and its curve falls with the price
  (`falls`); otherwise its status is `no_change`, with no price and the reason in its note.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from profiteer_pipeline.imports import merchandise
from profiteer_pipeline.imports import model_features as mf
from profiteer_pipeline.model import backtest, elasticity, evaluation, guardrails
from profiteer_pipeline.model.tolerances import (
    ABS_TOLERANCE,
    FALL_MIN_SHARE,
    FALL_MIN_UNITS,
    MAX_FLAT_SHARE,
    REL_TOLERANCE,
)

GRID_POINTS = 21
#: Representative days: Wednesday for the weekdays, Saturday for the weekend (pandas: Monday=0).
PROFILE_DAYS = {2: 5 / 7, 5: 2 / 7}
#: price_advice.status: a best price; no price change advised (the model does not beat the
#: baseline, the curve does not fall, or the elasticity's interval does not lie below zero); no
#: curve at all; not merchandise (postage, fees: `merchandise.py`).
STATUSES = ("advice", "no_change", "too_little_data", "excluded")
#: What a `no_change` row leaves empty (it keeps the units and revenue at the base price).
NO_PRICE = (
    "best_price",
    "units_per_day_at_best",
    "revenue_per_day_at_best",
    "revenue_uplift_pct",
    "guardrail",
    "profit_per_day_at_best",
)

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
    "status": "text NOT NULL CHECK (status IN ("
    + ", ".join(f"'{status}'" for status in STATUSES)
    + "))",
    "note": "text NOT NULL",
    "elasticity": "double precision",
    "elasticity_low": "double precision",
    "elasticity_high": "double precision",
    "elasticity_source": "text",
    "current_price": "numeric(18, 4)",
    "units_per_day_at_current": "double precision",
    "guardrail": "text",
    "unit_cost": "numeric(18, 4)",
    "profit_per_day_at_current": "double precision",
    "profit_per_day_at_best": "double precision",
    "objective": "text NOT NULL CHECK (objective IN ('revenue', 'profit'))",
}
ELASTICITY_COLUMNS = ("elasticity", "elasticity_low", "elasticity_high", "elasticity_source")


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


def falls(curve: pd.DataFrame) -> pd.DataFrame:
    """Per product (index): units per day at the lowest and at the highest price of its curve
    (`at_low`, `at_high`, the model's own predictions) and whether it `falls` with the price by
    the rule of FALL_MIN_UNITS and FALL_MIN_SHARE."""
    ends = curve.sort_values(["product_id", "price"]).groupby("product_id", sort=True).agg(
        price_low=("price", "first"), price_high=("price", "last"),
        at_low=("units_per_day", "first"), at_high=("units_per_day", "last"),
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


NOT_EVALUATED = (
    "The model was not evaluated: the data are too short for a week held out after a week of "
    "history, so nobody knows whether it beats the product's 28-day mean."
)


def no_advice_reason(figures: Mapping[str, object] | None) -> str | None:
    """Why no product gets a price from this model: out of sample it is not below the product's
    28-day mean on both RMSSE and Poisson deviance (`forecast.METRIC_FIELDS`), or it was not
    evaluated (`figures` None or missing); None when it beats it (a tie does not)."""
    keys = [f"{m}_{k}" for k in backtest.DECIDING for m in (backtest.MODEL, backtest.TRAILING_MEAN)]
    if figures is None or any(pd.isna(figures.get(key)) for key in keys):
        return NOT_EVALUATED
    model = [float(figures[f"{backtest.MODEL}_{k}"]) for k in backtest.DECIDING]
    mean = [float(figures[f"{backtest.TRAILING_MEAN}_{k}"]) for k in backtest.DECIDING]
    if all(m < b for m, b in zip(model, mean, strict=True)):
        return None
    return (
        "The model does not beat the product's 28-day mean out of sample (weekly folds at "
        f"product-day): RMSSE {model[0]:.3f} against {mean[0]:.3f}, Poisson deviance "
        f"{model[1]:.3f} against {mean[1]:.3f}."
    )


def _within_rails(
    out: pd.DataFrame,
    curve: pd.DataFrame,
    fit: pd.DataFrame,
    rails: guardrails.Guardrails,
    forecast: pd.Series | None,
) -> pd.DataFrame:
    """The best price and its figures on the demand line within the guardrails, the units per
    day at today's price, and the guardrail that bound each product."""
    out = out.copy()
    now = out["current_price"].astype(float)
    line = line_fit(curve)
    ids = out["product_id"]
    lined = ids.isin(line.index).to_numpy()
    nearest = fit.assign(now=fit["product_id"].map(dict(zip(ids, now, strict=True))))
    nearest = nearest.loc[(nearest["price"] - nearest["now"]).abs().groupby(
        nearest["product_id"]).idxmin()].set_index("product_id")["fit_units"]  # fmt: skip
    out["units_per_day_at_current"] = ids.map(nearest).astype(float)
    out.loc[lined, "units_per_day_at_current"] = on_line(
        line, ids[lined], now[lined].to_numpy(dtype=float)
    )
    if lined.any():
        ends = falls(curve).reindex(ids[lined].to_numpy())
        fitted = line.reindex(ids[lined].to_numpy())
        cost = out.loc[lined, "unit_cost"].to_numpy(dtype=float)
        # revenue (p x units) peaks at -a / 2b; profit ((p - cost) x units) at cost / 2 - a / 2b
        optimum = np.nan_to_num(cost) / 2 - fitted["intercept"].to_numpy() / (
            2 * fitted["slope"].to_numpy()
        )
        price, bound_by = guardrails.bound(
            optimum, now[lined].to_numpy(dtype=float), ends["price_low"].to_numpy(dtype=float),
            ends["price_high"].to_numpy(dtype=float), rails, cost=cost,
        )  # fmt: skip
        units = on_line(line, ids[lined], price)
        out.loc[lined, "best_price"] = price
        out.loc[lined, "units_per_day_at_best"] = units
        out.loc[lined, "revenue_per_day_at_best"] = units * price
        out.loc[lined, "profit_per_day_at_best"] = units * (price - cost)
        out.loc[lined, "guardrail"] = bound_by
    if forecast is not None:
        out = _at_forecast_level(out, forecast)
    out["profit_per_day_at_current"] = out["units_per_day_at_current"] * (
        out["current_price"].astype(float) - out["unit_cost"]
    )
    return out


def _at_forecast_level(out: pd.DataFrame, forecast: pd.Series) -> pd.DataFrame:
    """Units per day at today's price are the model's forecast for the coming week (`forecast`,
    what the backtest scores); the curve gives the shape: the figures at the base and the best
    price move by the same factor, so the uplift stays the curve's."""
    ahead = out["product_id"].map(forecast).astype(float)
    on_curve = out["units_per_day_at_current"].astype(float)
    scale = (ahead / on_curve).where(ahead.notna() & (on_curve > 0), 1.0)
    for column in ("units_per_day_at_base", "units_per_day_at_best", "revenue_per_day_at_base",
                   "revenue_per_day_at_best", "profit_per_day_at_best"):  # fmt: skip
        out[column] = out[column].astype(float) * scale
    out["units_per_day_at_current"] = ahead.fillna(on_curve)
    return out


def no_evidence_note(value: float, low: float, high: float, source: str | None) -> str:
    """Why a product whose curve falls still gets no price: its elasticity's interval."""
    if value is None or pd.isna(value):
        return (
            "No evidence that price moves demand: no elasticity could be estimated (too few "
            "sale days at different offered prices)."
        )
    if source != "own":
        return (
            "No evidence of this product's own price response: its offered price never moved "
            f"enough on enough sale days. The shop's pooled elasticity is {value:.2f} (90 % "
            f"interval {low:.2f} to {high:.2f}), but that is the shop's, not this product's."
        )
    return (
        f"No evidence that price moves demand: elasticity {value:.2f}, 90 % interval "
        f"{low:.2f} to {high:.2f}, which does not lie below zero."
    )


def _with_elasticity(out: pd.DataFrame, elasticities: pd.DataFrame | None) -> pd.DataFrame:
    """The elasticity columns merged in by product (empty where none was estimated)."""
    out = out.drop(columns=list(ELASTICITY_COLUMNS), errors="ignore")
    if elasticities is None or elasticities.empty:
        return out.assign(**{c: None for c in ELASTICITY_COLUMNS}).astype(
            {c: float for c in ELASTICITY_COLUMNS[:3]}
        )
    found = elasticities.rename(columns={"source": "elasticity_source"})[
        ["product_id", *ELASTICITY_COLUMNS]
    ].astype({"product_id": str})
    return out.merge(found, on="product_id", how="left")


def line_fit(curve: pd.DataFrame) -> pd.DataFrame:
    """Per product (index): the straight demand line fitted to its curve, units per day =
    `intercept` + `slope` x price, where it falls (slope < 0 < intercept); products whose
    curve does not fall are left out."""
    price = curve["price"].astype(float)
    units = curve["units_per_day"].astype(float)
    sums = (
        pd.DataFrame({"x": price, "y": units, "xx": price * price, "xy": price * units})
        .assign(n=1.0)
        .groupby(curve["product_id"], sort=True)
        .sum()
    )  # least squares in closed form, every product at once
    spread = sums["n"] * sums["xx"] - sums["x"] ** 2
    slope = (sums["n"] * sums["xy"] - sums["x"] * sums["y"]) / spread.where(spread > 0)
    intercept = (sums["y"] - slope * sums["x"]) / sums["n"]
    line = pd.DataFrame({"intercept": intercept, "slope": slope}).rename_axis("product_id")
    return line[(sums["n"] >= 2) & (line["slope"] < 0) & (line["intercept"] > 0)]


def on_line(line: pd.DataFrame, ids: pd.Series, price: np.ndarray) -> np.ndarray:
    """Units per day at `price` on each product's line (never below zero)."""
    fitted = line.reindex(ids.to_numpy())
    return np.clip(fitted["intercept"].to_numpy() + fitted["slope"].to_numpy() * price, 0.0, None)


def smoothed(curve: pd.DataFrame) -> pd.DataFrame:
    """The curve with `fit_units` and `fit_revenue` per day: a straight demand line fitted to
    each product's curve (`line_fit`; revenue peaks at -intercept / 2 slope), where it falls;
    the model's own values where it does not (no price optimum inside the range).

    Why the advice uses the line and not the raw argmax: lightwood's tree mixers predict in
    steps at the prices seen in training, so revenue rises along each flat step and the raw
    argmax sits at the edge of a step, wherever the steps happen to fall."""
    out = curve.copy()
    out["fit_units"] = out["units_per_day"].astype(float)
    line = line_fit(curve)
    has = out["product_id"].isin(line.index).to_numpy()
    out.loc[has, "fit_units"] = on_line(
        line, out.loc[has, "product_id"], out.loc[has, "price"].to_numpy(dtype=float)
    )
    out["fit_revenue"] = out["price"].astype(float) * out["fit_units"]
    return out


def advice(
    products: pd.DataFrame,
    ev: pd.DataFrame,
    curve: pd.DataFrame,
    skipped: tuple[str, ...] = (),
    skipped_reason: str = "",
    *,
    model_loses: str | None,
    elasticities: pd.DataFrame | None = None,
    excluded: pd.DataFrame | None = None,
    current: pd.Series | None = None,
    rails: guardrails.Guardrails = guardrails.DEFAULT,
    costs: pd.Series | None = None,
    forecast: pd.Series | None = None,
) -> pd.DataFrame:
    """price_advice: one row per product; the best price where it has a curve that falls, the
    model beats the baseline (`model_loses` is None, else why not: `no_advice_reason`) and the
    product's elasticity interval (`elasticity.estimate`) lies below zero; status `no_change`
    with the reason where it has a curve but no advice, `excluded` for what is not merchandise
    (`merchandise.excluded`), else `too_little_data`.

    The best price maximizes revenue on the product's demand line (`line_fit`), profit where
    `costs` (product_id -> unit cost) has the product, within the shop's `rails` around its
    `current` price (product_id -> today's offered price; the base price where absent);
    `guardrail` names the one that bound it. `forecast` (product_id -> the model's units per
    day for the coming week at today's price) sets the level of every figure."""
    prod = products.assign(product_id=products["product_id"].astype(str))
    out = prod[["product_id", "product_name", "category", "base_price"]].merge(
        ev[["product_id", "sale_hours", "price_points", "price_low", "price_high", "note"]],
        on="product_id",
        how="left",
    )
    out["base_price"] = pd.to_numeric(out["base_price"]).astype(float)
    for column in list(ADVICE_COLUMNS)[4:10]:
        out[column] = np.nan
    now = out["product_id"].map(current).astype(float) if current is not None else np.nan
    out["current_price"] = pd.Series(now, index=out.index).fillna(out["base_price"]).round(4)
    out["units_per_day_at_current"] = np.nan
    out["guardrail"] = None
    out["unit_cost"] = out["product_id"].map(costs).astype(float) if costs is not None else np.nan
    out["objective"] = np.where(out["unit_cost"].notna(), "profit", "revenue")
    out["profit_per_day_at_current"] = np.nan
    out["profit_per_day_at_best"] = np.nan
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
        out = _within_rails(out, curve, fit, rails, forecast)
        rb = out["revenue_per_day_at_base"]
        out["revenue_uplift_pct"] = np.where(
            has & (rb > 0), (out["revenue_per_day_at_best"] / rb - 1.0) * 100.0, np.nan
        )
        out.loc[has, "status"] = "advice"
        out.loc[has, "note"] = [
            f"Curve from {int(h)} hours with sales at {int(n)} prices between "
            f"{lo:.2f} and {hi:.2f}; predicted {goal} per day is highest at {p:.2f}"
            + (f" within the guardrails ({g})." if g not in (None, guardrails.NONE) else ".")
            for h, n, lo, hi, p, g, goal in zip(
                out.loc[has, "sale_hours"], out.loc[has, "price_points"],
                out.loc[has, "price_low"], out.loc[has, "price_high"], out.loc[has, "best_price"],
                out.loc[has, "guardrail"], out.loc[has, "objective"], strict=True,
            )
        ]  # fmt: skip
        # the rule: no price where the curve does not fall, none at all where the model loses
        ends = falls(curve).reindex(out["product_id"].to_numpy())
        flat = has.to_numpy() & ~ends["falls"].eq(True).to_numpy()
        out.loc[flat, "note"] = [
            f"Predicted sales do not fall with the price ({a:.2f} "
            f"units/day at {lo:.2f}, {b:.2f} at {hi:.2f}), so no price is better supported "
            "than the current one."
            for a, lo, b, hi in ends.loc[flat, ["at_low", "price_low", "at_high", "price_high"]]
            .itertuples(index=False)
        ]  # fmt: skip
        out = _with_elasticity(out, elasticities)
        unproven = has.to_numpy() & ~flat & ~elasticity.shows_response(out).to_numpy()
        out.loc[unproven, "note"] = [
            no_evidence_note(e, lo, hi, source)
            for e, lo, hi, source in out.loc[unproven, list(ELASTICITY_COLUMNS)].itertuples(
                index=False
            )
        ]
        withheld = (flat | unproven) if model_loses is None else has.to_numpy()
        if model_loses is not None:
            out.loc[withheld, "note"] = model_loses
        out.loc[withheld, "status"] = "no_change"
        out.loc[withheld, list(NO_PRICE)] = np.nan
    else:
        out = _with_elasticity(out, elasticities)
    if excluded is not None and not excluded.empty:
        reasons = excluded.set_index("product_id")["reason"]
        hit = out["product_id"].isin(reasons.index)
        out.loc[hit, "status"] = "excluded"
        out.loc[hit, "note"] = out.loc[hit, "product_id"].map(reasons).map(merchandise.note)
        out.loc[hit, list(NO_PRICE) + list(ELASTICITY_COLUMNS)] = None
    leftover = out["status"].eq("too_little_data") & out["product_id"].isin(skipped)
    out.loc[leftover, "note"] = (
        "Enough data, but not modelled in this training: " + skipped_reason + "."
    )
    unexplained = out["status"].eq("too_little_data") & (out["note"].fillna("") == "")
    out.loc[unexplained, "note"] = "Too little data for a price curve."
    out["sale_hours"] = out["sale_hours"].fillna(0).astype(int)
    out["price_points"] = out["price_points"].fillna(0).astype(int)
    return out[list(ADVICE_COLUMNS)].sort_values("product_id").reset_index(drop=True)
