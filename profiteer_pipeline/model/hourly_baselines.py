"""The simulated shop's held-out day against what a forecaster would use at product-hour, scored
with the figures every source reports (`backtest.METRIC_FIELDS`: RMSSE, Poisson deviance, MAE).

- seasonal naive: the product's purchases in the same hour the day before;
- trailing mean: the product's mean purchases in the same hour over the `SAME_HOUR_DAYS` days
  before (those it has).

Only hours before the held-out day are read, and every method is scored on the same rows: the
held-out product-hours that have the hour the day before. RMSSE is scaled by each product's
hour-to-hour change over the history. `benchmarks/bench_shop_grain.py` measured these baselines
on the shop: R² 0.14 and 0.54 where the model reaches 0.99 (its prices are drawn anew each hour,
so yesterday's hour says little). An import's model is held to the same rule
(`pricing.advice_table.no_advice_reason`) by its weekly backtest at product-day.

Pure pandas/numpy (no Dagster): the asset and the tests share it.
"""

from __future__ import annotations

import pandas as pd

from profiteer_pipeline.model import backtest
from profiteer_pipeline.model.figures import HOURLY

SAME_HOUR_DAYS = 7
DAY = pd.Timedelta(days=1)


def _stamped(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(timestamp=pd.to_datetime(frame["timestamp"], utc=True))


def forecasts(history: pd.DataFrame, held_out: pd.DataFrame) -> pd.DataFrame:
    """`held_out` (product_id, timestamp, actual, predicted) with `seasonal_naive` and
    `trailing_mean`, for the rows that have the hour the day before in `history` (product_id,
    timestamp, purchases; its hours before the held-out day only)."""
    ho = _stamped(held_out)
    hist = _stamped(history)
    hist = hist[hist["timestamp"] < ho["timestamp"].min()]
    value = hist.set_index(["product_id", "timestamp"])["purchases"].astype(float)
    value = value[~value.index.duplicated()]
    lags = {
        k: value.reindex(pd.MultiIndex.from_arrays([ho["product_id"], ho["timestamp"] - k * DAY]))
        for k in range(1, SAME_HOUR_DAYS + 1)
    }
    lagged = pd.DataFrame({k: v.to_numpy() for k, v in lags.items()}, index=ho.index)
    out = ho.assign(seasonal_naive=lagged[1], trailing_mean=lagged.mean(axis=1, skipna=True))
    return out[out["seasonal_naive"].notna()].reset_index(drop=True)


def figures(history: pd.DataFrame, held_out: pd.DataFrame) -> dict[str, float | int | None]:
    """Each method's RMSSE, Poisson deviance and MAE on the held-out rows (`METRIC_FIELDS`), and
    the number of rows scored; every figure None when no row has the hour the day before."""
    scored = forecasts(history, held_out)
    if scored.empty:
        return {**dict.fromkeys(backtest.METRIC_FIELDS), "rows": 0}
    actual = scored[["product_id", "timestamp"]].assign(units=scored["actual"].astype(float))
    actual = actual.rename(columns={"timestamp": "day"})
    panel = _stamped(history).rename(columns={"timestamp": "day", "purchases": "units"})
    panel = panel[["product_id", "day", "units"]].astype({"units": float})
    columns = {
        backtest.MODEL: "predicted",
        backtest.SEASONAL_NAIVE: "seasonal_naive",
        backtest.TRAILING_MEAN: "trailing_mean",
    }
    out: dict[str, float | int | None] = {}
    for method, column in columns.items():
        forecast = scored[column].to_numpy(dtype=float).clip(min=0.0)
        out[f"{method}_rmsse"] = float(backtest.rmsse(actual, forecast, panel).value)
        out[f"{method}_poisson_deviance"] = backtest.poisson_deviance(actual["units"], forecast)
        out[f"{method}_mae"] = backtest.mae(actual["units"], forecast)
    out["rows"] = len(scored)
    return out


def summary(figures: dict) -> str:
    """The model's RMSSE and Poisson deviance beside the two baselines', as one sentence."""
    if not figures.get("rows"):
        return f"no baseline: no held-out hour has the {HOURLY.seasonal}"
    label = {
        backtest.SEASONAL_NAIVE: HOURLY.seasonal,
        backtest.TRAILING_MEAN: HOURLY.baseline,
    }
    parts = [
        f"{metric.replace('_', ' ')} {figures[f'{backtest.MODEL}_{metric}']:.3f} against "
        + " and ".join(f"{figures[f'{b}_{metric}']:.3f} ({label[b]})" for b in label)
        for metric in backtest.DECIDING
    ]
    return f"on {figures['rows']} held-out product-hours, " + "; ".join(parts)
