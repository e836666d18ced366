"""How good an import's model is, and what it forecasts: the rolling-origin backtest of its twin
and the week-ahead forecast at today's prices, both from `fold_inputs` (what was known at a
start). Pure of Dagster; MindsDB is reached through the client passed in.

- `evaluate`: for each of the latest `FOLDS` weeks, a twin trained only on the days before it
  forecasts that week's units per product-day from what was known at its start (the prices the
  shop set, the calendar, recent demand frozen at the start), scored with RMSSE and Poisson
  deviance (`model.backtest`) beside the seasonal naive (same weekday last week) and the
  product's trailing 28-day mean on the same days. It beats them only when it is below the
  28-day mean on both (`advice_table.no_advice_reason`, the rule the app applies too).
- `week_ahead`: the final model's units per day for the week after the data at today's prices:
  the very forecaster the backtest scores, which sets the advice's level.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from profiteer_pipeline.model import backtest
from profiteer_pipeline.model import daily_features as mf
from profiteer_pipeline.model import training as training_mod
from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.figures import DAILY
from profiteer_pipeline.model.spec import ModelSpec
from profiteer_pipeline.pricing import advice_table as at

#: The backtest: the latest FOLDS weeks, one after the other, each after at least a week of
#: history (fewer folds where the data are shorter; none below two weeks: not evaluated).
FOLDS = 3

HORIZON_DAYS = 7


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


def n_folds(panel: pd.DataFrame) -> int:
    """How many weekly folds the data allow, each after at least a week of history."""
    if panel.empty:
        return 0
    days = (panel["day"].max() - panel["day"].min()).days + 1
    return max(0, min(FOLDS, (days - 7) // HORIZON_DAYS))


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


@dataclass(frozen=True)
class Evaluation:
    """The backtest's verdict (`result` None: the data were too short to hold a week out)."""

    result: backtest.BacktestResult | None
    twin_seconds: float = 0.0

    @property
    def figures(self) -> dict[str, float | None]:
        """`backtest.METRIC_FIELDS`: each method's figures over all folds (None when not
        evaluated); the columns of `model_evaluation` and the run's metadata."""
        if self.result is None:
            return dict.fromkeys(backtest.METRIC_FIELDS)
        return {
            field: self.result.overall(method, metric)
            for field, (method, metric) in zip(
                backtest.METRIC_FIELDS, backtest.FIGURES, strict=True
            )
        }

    @property
    def rows(self) -> int:
        return self.result.rows if self.result is not None else 0

    @property
    def folds(self) -> int:
        return len(self.result.folds) if self.result is not None else 0

    @property
    def held_out_from(self) -> pd.Timestamp | None:
        if self.result is None:
            return None
        return pd.Timestamp(self.result.folds["origin"].min()).tz_localize("UTC")

    @property
    def beats_baseline(self) -> bool:
        return self.no_advice_reason() is None

    def no_advice_reason(self) -> str | None:
        """None when the model beats the 28-day mean on both metrics, else why no product gets
        a price (the same words the app shows for a stored evaluation)."""
        return at.no_advice_reason(self.figures if self.result is not None else None)

    def summary(self) -> str:
        if self.result is None:
            return DAILY.not_evaluated()
        return self.result.summary()


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
    folds = n_folds(panel)
    if folds == 0:
        return Evaluation(None)
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

    result = backtest.backtest(panel, forecaster, folds=folds, horizon=HORIZON_DAYS)
    return Evaluation(result, seconds)
