"""Every source's price advice per product, read off its daily price curves (`price_curves`):
one row per product in `price_advice`, and the rules that decide which products get a price.
Pure pandas/numpy (no Dagster, no database), shared by `forecast` (which writes the table), the
app and the tests.

- The best price maximizes revenue (profit where a unit cost is known) on the product's demand
  line (`price_curves.line_fit`), within the shop's guardrails (`model.guardrails`) around its
  current price; its level is the model's forecast for the coming week at today's price.
- The rule: a model is only as good as the baseline it beats. A product gets a best price only
  when the model beat the product's 28-day mean out of sample (`no_advice_reason`), its curve
  falls with the price (`price_curves.falls`) and its own elasticity interval lies below zero
  and backs the move (`evidence`); otherwise its status is `no_change`, with no price, the
  rule's code in `reason` and the reason in its note. Postage, fees and adjustments are
  `excluded` (`merchandise`).
- How sure: each move's gain per day has a 90 % range, from the product's own elasticity
  interval (`gain_range`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from profiteer_pipeline.model import backtest
from profiteer_pipeline.model.figures import DAILY, Yardstick
from profiteer_pipeline.pricing import guardrails
from profiteer_pipeline.pricing.curves import falls, line_fit, on_line, smoothed
from profiteer_pipeline.pricing.evidence import unsupported
from profiteer_pipeline.sources.files import merchandise
from profiteer_pipeline.warehouse.source_tables import ADVICE_COLUMNS, NO_PRICE

ELASTICITY_COLUMNS = ("elasticity", "elasticity_low", "elasticity_high", "elasticity_source")


def no_advice_reason(
    figures: Mapping[str, object] | None, yardstick: Yardstick = DAILY
) -> str | None:
    """Why no product gets a price from this model: out of sample it is not below the trailing
    mean (`yardstick`: the grain's baseline and how the figures were made) on both RMSSE and
    Poisson deviance (`backtest.METRIC_FIELDS`), or it was not evaluated (`figures` None or
    missing); None when it beats it (a tie does not). Every source's model answers to this
    rule."""
    keys = [f"{m}_{k}" for k in backtest.DECIDING for m in (backtest.MODEL, backtest.TRAILING_MEAN)]
    if figures is None or any(pd.isna(figures.get(key)) for key in keys):
        return yardstick.not_evaluated()
    model = [float(figures[f"{backtest.MODEL}_{k}"]) for k in backtest.DECIDING]
    mean = [float(figures[f"{backtest.TRAILING_MEAN}_{k}"]) for k in backtest.DECIDING]
    if all(m < b for m, b in zip(model, mean, strict=True)):
        return None
    return (
        f"The model does not beat the {yardstick.baseline} out of sample ({yardstick.how}): "
        f"RMSSE {model[0]:.3f} against {mean[0]:.3f}, Poisson deviance "
        f"{model[1]:.3f} against {mean[1]:.3f}."
    )


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
    catalog: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """price_advice: one row per product; the best price where it has a curve that falls, the
    model beats the baseline (`model_loses` is None, else why not: `no_advice_reason`) and the
    product's elasticity interval (`elasticity.estimate`) lies below zero; status `no_change`
    with the reason where it has a curve but no advice, `excluded` for what is not merchandise
    (`merchandise.excluded`), else `too_little_data`.

    The best price maximizes revenue on the product's demand line (`line_fit`), profit where
    `costs` (product_id -> unit cost) has the product, within the shop's `rails` around its
    `current` price (product_id -> today's offered price; the base price where absent);
    `guardrail` names the one that bound it; a source with a catalog (`catalog`: product_id ->
    `min_price`, `max_price`) holds every price inside its bounds. `forecast` (product_id -> the
    model's units per day for the coming week at today's price) sets the level of every
    figure."""
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
    out["revenue_per_day_at_current"] = np.nan
    out["guardrail"] = None
    out["unit_cost"] = out["product_id"].map(costs).astype(float) if costs is not None else np.nan
    out["objective"] = np.where(out["unit_cost"].notna(), "profit", "revenue")
    out["profit_per_day_at_current"] = np.nan
    out["profit_per_day_at_best"] = np.nan
    out["gain_per_day_low"] = out["gain_per_day_high"] = np.nan
    out["status"] = "too_little_data"
    out["reason"] = "too_little_data"
    if not curve.empty:
        fit = smoothed(curve)
        best = fit.loc[fit.groupby("product_id")["fit_revenue"].idxmax()].set_index("product_id")
        at_base = _nearest_point(fit, out.set_index("product_id")["base_price"])
        has = out["product_id"].isin(best.index)
        ids = out.loc[has, "product_id"]
        out.loc[has, "best_price"] = best["price"].reindex(ids).to_numpy()
        for where, frame in (("best", best), ("base", at_base)):
            out.loc[has, f"units_per_day_at_{where}"] = frame["fit_units"].reindex(ids).to_numpy()
            out.loc[has, f"revenue_per_day_at_{where}"] = (
                frame["fit_revenue"].reindex(ids).to_numpy()
            )
        out = _within_rails(out, curve, fit, rails, forecast, catalog)
        # the gain of the move: at the best price against today's (the base price, the median
        # paid, may lie far from today's)
        rc = out["revenue_per_day_at_current"]
        out["revenue_uplift_pct"] = np.where(
            has & (rc > 0), (out["revenue_per_day_at_best"] / rc - 1.0) * 100.0, np.nan
        )
        out.loc[has, "status"] = "advice"
        out.loc[has, "reason"] = None
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
        out.loc[flat, "reason"] = "curve_does_not_fall"
        out = with_elasticity(out, elasticities)
        out["gain_per_day_low"], out["gain_per_day_high"] = gain_range(out)
        # each rule below withholds only what the rules before it left standing
        standing = has.to_numpy() & ~flat
        unbacked, notes, codes = unsupported(out, standing)
        standing &= ~unbacked
        out.loc[unbacked, "note"] = notes
        out.loc[unbacked, "reason"] = codes
        # today's price already is the best one (within the guardrails): no move to advise
        kept = standing & ((out["best_price"] - out["current_price"]).abs() < 0.005).to_numpy()
        standing &= ~kept
        out.loc[kept, "note"] = [
            f"Today's price, {p:.2f}, is already where predicted {goal} per day is highest"
            + (f" within the guardrails ({g})." if g not in (None, guardrails.NONE) else ".")
            + " No change."
            for p, g, goal in out.loc[kept, ["current_price", "guardrail", "objective"]]
            .itertuples(index=False)
        ]  # fmt: skip
        out.loc[kept, "reason"] = "already_best"
        # a move too small to matter: below the shop's minimum gain over today's revenue (profit)
        gain = _gain_pct(out)
        small = standing & (gain < rails.min_gain_pct).to_numpy()
        standing &= ~small
        out.loc[small, "note"] = [
            f"The best price, {p:.2f}, would gain {g:.1f} % {goal} per day over today's "
            f"{c:.2f}: below the {rails.min_gain_pct:g} % a change must gain (guardrails). "
            "No change."
            for p, c, g, goal in zip(
                out.loc[small, "best_price"], out.loc[small, "current_price"], gain[small],
                out.loc[small, "objective"], strict=True,
            )
        ]  # fmt: skip
        out.loc[small, "reason"] = "small_gain"
        withheld = has.to_numpy() & ~standing if model_loses is None else has.to_numpy()
        if model_loses is not None:
            out.loc[withheld, "note"] = model_loses
            out.loc[withheld, "reason"] = "model_loses"
        out.loc[withheld, "status"] = "no_change"
        out.loc[withheld, list(NO_PRICE)] = np.nan
    else:
        out = with_elasticity(out, elasticities)
    if excluded is not None and not excluded.empty:
        reasons = excluded.set_index("product_id")["reason"]
        hit = out["product_id"].isin(reasons.index)
        out.loc[hit, "status"] = "excluded"
        out.loc[hit, "reason"] = "not_merchandise"
        out.loc[hit, "note"] = out.loc[hit, "product_id"].map(reasons).map(merchandise.note)
        out.loc[hit, list(NO_PRICE) + list(ELASTICITY_COLUMNS)] = None
    leftover = out["status"].eq("too_little_data") & out["product_id"].isin(skipped)
    out.loc[leftover, "note"] = (
        "Enough data, but not modelled in this training: " + skipped_reason + "."
    )
    out.loc[leftover, "reason"] = "not_modelled"
    unexplained = out["status"].eq("too_little_data") & (out["note"].fillna("") == "")
    out.loc[unexplained, "note"] = "Too little data for a price curve."
    out["sale_hours"] = out["sale_hours"].fillna(0).astype(int)
    out["price_points"] = out["price_points"].fillna(0).astype(int)
    return out[list(ADVICE_COLUMNS)].sort_values("product_id").reset_index(drop=True)


def _per_day(out: pd.DataFrame, at: str) -> pd.Series:
    """The objective per day `at` "best" or "current": profit where the objective is profit,
    else revenue."""
    profit = out[f"profit_per_day_at_{at}"].astype(float)
    return profit.where(out["objective"] == "profit", out[f"revenue_per_day_at_{at}"].astype(float))


def objective_gain(out: pd.DataFrame) -> pd.Series:
    """The move's gain per day in its objective: at the best price minus at today's."""
    return _per_day(out, "best") - _per_day(out, "current")


def _gain_pct(out: pd.DataFrame) -> pd.Series:
    """The move's predicted gain over today's price, in % of today's objective (NaN where
    today's is not positive)."""
    now = _per_day(out, "current")
    return (objective_gain(out) / now * 100.0).where(now > 0)


def gain_range(out: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The move's gain per day in the objective (revenue, or profit), 90 % range: from the least
    to the most it earns at either end of the product's elasticity interval or on the model's
    curve (NaN without a move's figures or an interval).

    Why the elasticity: the curve says where the best price lies, the product's own interval
    how sure the data are of its response. At elasticity e the units at the best price are
    today's times (best / today)^e, so the gain is units_today x ((best / today)^e x (best -
    cost) - (today - cost)); it is monotone in e, so the interval's ends bound it. The evidence
    rule (`evidence.unsupported`) lets a move stand only where the whole interval backs its
    direction: for revenue that is exactly a range above zero."""
    now = out["current_price"].astype(float)
    best = out["best_price"].astype(float)
    cost = out["unit_cost"].astype(float).fillna(0.0)
    units = out["units_per_day_at_current"].astype(float)
    ratio = (best / now).where(now > 0)

    def gain(e: pd.Series) -> pd.Series:
        return units * (ratio ** e.astype(float) * (best - cost) - (now - cost))

    ends = pd.concat(
        [gain(out["elasticity_low"]), gain(out["elasticity_high"]), objective_gain(out)], axis=1
    )
    known = ends.notna().all(axis=1)
    return ends.min(axis=1).where(known), ends.max(axis=1).where(known)


def _nearest_point(fit: pd.DataFrame, price: pd.Series) -> pd.DataFrame:
    """Per product (index): the row of its `smoothed` curve nearest to `price` (product_id ->
    a price)."""
    gap = (fit["price"].astype(float) - fit["product_id"].map(price).astype(float)).abs()
    return fit.loc[gap.groupby(fit["product_id"]).idxmin()].set_index("product_id")


def _within_rails(
    out: pd.DataFrame,
    curve: pd.DataFrame,
    fit: pd.DataFrame,
    rails: guardrails.Guardrails,
    forecast: pd.Series | None,
    catalog: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The best price and its figures on the demand line within the guardrails, the units per
    day at today's price, and the guardrail that bound each product."""
    out = out.copy()
    now = out["current_price"].astype(float)
    line = line_fit(curve)
    ids = out["product_id"]
    lined = ids.isin(line.index).to_numpy()
    nearest = _nearest_point(fit, now.set_axis(ids))["fit_units"]
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
        bounds = None
        if catalog is not None:
            known = catalog.reindex(ids[lined].to_numpy())
            bounds = (known["min_price"].to_numpy(float), known["max_price"].to_numpy(float))
        price, bound_by = guardrails.bound(
            optimum, now[lined].to_numpy(dtype=float), ends["price_low"].to_numpy(dtype=float),
            ends["price_high"].to_numpy(dtype=float), rails, cost=cost, catalog=bounds,
        )  # fmt: skip
        units = on_line(line, ids[lined], price)
        out.loc[lined, "best_price"] = price
        out.loc[lined, "units_per_day_at_best"] = units
        out.loc[lined, "revenue_per_day_at_best"] = units * price
        out.loc[lined, "profit_per_day_at_best"] = units * (price - cost)
        out.loc[lined, "guardrail"] = bound_by
    if forecast is not None:
        out = _at_forecast_level(out, forecast)
    out["revenue_per_day_at_current"] = out["units_per_day_at_current"] * out[
        "current_price"
    ].astype(float)
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


def with_elasticity(out: pd.DataFrame, elasticities: pd.DataFrame | None) -> pd.DataFrame:
    """The elasticity columns merged in by product (empty where none was estimated), from
    `elasticities` (`elasticity.Elasticities.products`)."""
    out = out.drop(columns=list(ELASTICITY_COLUMNS), errors="ignore")
    if elasticities is None or elasticities.empty:
        return out.assign(**{c: None for c in ELASTICITY_COLUMNS}).astype(
            {c: float for c in ELASTICITY_COLUMNS[:3]}
        )
    found = elasticities.rename(columns={"source": "elasticity_source"})[
        ["product_id", *ELASTICITY_COLUMNS]
    ].astype({"product_id": str})
    return out.merge(found, on="product_id", how="left")
