"""How good an import's model is, and what it forecasts: the rolling-origin backtest of its twin
and the week-ahead forecast at today's prices, both from `fold_inputs` (what was known at a
start). Pure of Dagster; MindsDB is reached through the client passed in.

- `evaluate`: for each of the latest 3 weeks (`figures.DAILY`), a twin trained only on the days
  before it forecasts that week's units per product-day from what was known at its start (the
  prices the shop set, the calendar, recent demand frozen at the start), scored with RMSSE and
  Poisson deviance (`model.backtest`) beside the seasonal naive (same weekday last week) and the
  product's trailing 28-day mean on the same days. It beats them only when it is below the
  28-day mean on both (`advice_table.no_advice_reason`, the rule the app applies too).
- `week_ahead`: the final model's units per day for the week after the data at today's prices:
  the very forecaster the backtest scores, which sets the advice's level.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from profiteer_pipeline.model import backtest
from profiteer_pipeline.model import daily_features as mf
from profiteer_pipeline.model import training as training_mod
from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.figures import DAILY
from profiteer_pipeline.model.held_out import Evaluation, n_folds
from profiteer_pipeline.model.spec import ModelSpec

#: The backtest: the latest weeks, one after the other, each after at least a week of history
#: (fewer folds where the data are shorter; none below two weeks: not evaluated).
HORIZON_DAYS = DAILY.horizon


def week_ahead(
    client: MindsDBClient, spec: ModelSpec, rows: pd.DataFrame, predict_batch: int = 10_000
) -> pd.Series:
    """product_id -> the model's units per day over the week after the data, at today's prices:
    the forecast the backtest scores (`fold_inputs` from the day after the last)."""
    start = rows[mf.TS_COLUMN].max() + pd.Timedelta(days=1)
    inputs = fold_inputs(rows, start, HORIZON_DAYS)
    if inputs.empty:
        return pd.Series(dtype=float)
    predicted = training_mod.predict_batches(client, spec, inputs, predict_batch)
    units = inputs.assign(units=predicted.clip(lower=0.0).to_numpy())
    return units.groupby("product_id")["units"].sum() / HORIZON_DAYS


def evaluation_panel(rows: pd.DataFrame) -> pd.DataFrame:
    """Units per product-day (UTC) of the modelled rows, zero days included: what is scored."""
    return backtest.daily_panel(rows, day=mf.TS_COLUMN, units=mf.TARGET)


def fold_inputs(rows: pd.DataFrame, origin: pd.Timestamp, horizon: int) -> pd.DataFrame:
    """The model's inputs for every day of [origin, origin + `horizon` days), for each product
    with rows before `origin`, as known at `origin`: the price the shop set (the feature row's;
    after a product's last row the last one before), its category, the calendar, and recent
    demand frozen at `origin` (the lags never see a held-out day)."""
    state = mf.demand_before(rows, origin)
    if state.empty:
        return pd.DataFrame(columns=[*mf.KEY, *mf.FEATURES])
    days = pd.date_range(origin, periods=horizon, freq="D")
    products = state.index.to_numpy()
    grid = pd.DataFrame(
        {"product_id": np.repeat(products, len(days)), mf.TS_COLUMN: np.tile(days, len(products))}
    )
    ts = rows[mf.TS_COLUMN]
    window = rows[(ts >= origin) & (ts <= days[-1])]
    grid = grid.merge(
        window[["product_id", mf.TS_COLUMN, "price_ratio"]], on=list(mf.KEY), how="left"
    )
    grid["price_ratio"] = grid.groupby("product_id")["price_ratio"].ffill()
    grid["price_ratio"] = grid["price_ratio"].fillna(grid["product_id"].map(state["price_ratio"]))
    grid["day_of_week"] = grid[mf.TS_COLUMN].dt.dayofweek.astype("int32")
    for column in ("category", *mf.LAGS):
        grid[column] = grid["product_id"].map(state[column])
    return grid


def evaluate(
    client: MindsDBClient,
    twin: ModelSpec,
    rows: pd.DataFrame,
    *,
    timeout: float,
    log: Callable[[str], None],
    predict_batch: int = 10_000,
) -> Evaluation:
    """The rolling-origin backtest of `twin` (retrained before each fold) on `rows`."""
    panel = evaluation_panel(rows)
    folds = n_folds(panel, DAILY)
    if folds == 0:
        return Evaluation(None, yardstick=DAILY)
    seconds = 0.0

    def forecaster(history: pd.DataFrame, origin: pd.Timestamp, horizon: int) -> pd.DataFrame:
        nonlocal seconds
        start = pd.Timestamp(origin).tz_localize("UTC")
        log(
            f"backtest fold from {start:%Y-%m-%d}: training {twin.qualified_name} on the days before"
        )
        seconds += training_mod.train(
            client, twin, before=start.to_pydatetime(), timeout=timeout, log=log
        ).seconds
        inputs = fold_inputs(rows, start, horizon)
        predicted = training_mod.predict_batches(client, twin, inputs, predict_batch)
        day = inputs[mf.TS_COLUMN].dt.tz_convert(None).dt.normalize()
        out = inputs.assign(day=day, forecast=predicted.clip(lower=0.0).to_numpy())
        return out.groupby(["product_id", "day"], as_index=False)["forecast"].sum()

    result = backtest.backtest(panel, forecaster, folds=folds, yardstick=DAILY)
    return Evaluation(result, seconds, DAILY)
