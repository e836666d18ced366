"""The simulated shop's model out of sample, by the backtest every source's model answers to
(`model.backtest` at product-hour, `figures.HOURLY`): its latest 24 hours, forecast by a twin
trained without them, beside the same hour the day before and the same hour's mean over the 7
days before, scored with RMSSE, Poisson deviance and MAE.

The twin sees each held-out hour's own inputs (its views and cart adds: a nowcast given the
funnel), as the shop's model is queried. `benchmarks/bench_shop_grain.py` measured these
baselines on the shop: R² 0.14 and 0.54 where the model reaches 0.99 (its prices are drawn anew
each hour, so yesterday's hour says little).

Pure of Dagster; MindsDB is reached through the client passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from profiteer_pipeline.model import backtest, training
from profiteer_pipeline.model.client import MindsDBClient
from profiteer_pipeline.model.figures import HOURLY
from profiteer_pipeline.model.held_out import Evaluation, n_folds
from profiteer_pipeline.model.spec import ModelSpec

#: The shop's hours (dense: every product-hour), read once by its training: the window trained
#: on, how densely the products sell (`grain`) and the backtest's panel all come from them.
HOURS_SQL = 'SELECT product_id, "timestamp", purchases FROM public.sales_features'
#: How far back the backtest reads before the held-out hours: the trailing mean's days.
LOOKBACK = timedelta(hours=HOURLY.trailing * HOURLY.stride)

#: (start, end) -> the predictions for the product-hours in [start, end): product_id,
#: timestamp, actual, predicted (`training.held_out_predictions`).
Predict = Callable[[datetime, datetime], pd.DataFrame]


def first_hour(last_hour: datetime) -> datetime:
    """The first hour the backtest reads, for data up to `last_hour`: its held-out hours and the
    trailing mean's days before them."""
    held = HOURLY.horizon * HOURLY.folds
    return last_hour - timedelta(hours=held - 1) - LOOKBACK


def panel(frame: pd.DataFrame) -> pd.DataFrame:
    """The backtest's panel (product_id, day: each hour's start in UTC, tz-naive; units) from
    rows of product_id, timestamp, purchases, from `first_hour` on (the RMSSE's scale is the
    hour-to-hour change over those days)."""
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    if not frame.empty:
        read = (stamps >= first_hour(stamps.max().to_pydatetime())).to_numpy()
        frame, stamps = frame[read], stamps[read]
    hours = stamps.dt.tz_convert(None)
    return pd.DataFrame(
        {
            "product_id": frame["product_id"].astype(str).to_numpy(),
            "day": hours.to_numpy(),
            "units": frame["purchases"].astype(float).to_numpy(),
        }
    )


@dataclass(frozen=True)
class HeldOut:
    """The verdict, and the latest fold's predictions (empty when not evaluated): the R², the
    error band and the chart are read from them."""

    evaluation: Evaluation
    predictions: pd.DataFrame


def score(hours: pd.DataFrame, predict: Predict) -> HeldOut:
    """The backtest of `predict` on the panel `hours` (`panel`), in folds of the latest 24 hours
    after at least a day of history: not evaluated when the data are shorter."""
    folds = n_folds(hours, HOURLY)
    if folds == 0:
        return HeldOut(Evaluation(None, yardstick=HOURLY), pd.DataFrame())
    latest: list[pd.DataFrame] = []

    def forecaster(history: pd.DataFrame, origin: pd.Timestamp, horizon: int) -> pd.DataFrame:
        start = pd.Timestamp(origin).tz_localize("UTC").to_pydatetime()
        preds = predict(start, start + timedelta(hours=horizon))
        latest[:] = [preds]
        return pd.DataFrame(
            {
                "product_id": preds["product_id"].astype(str).to_numpy(),
                "day": pd.to_datetime(preds["timestamp"], utc=True).dt.tz_convert(None).to_numpy(),
                "forecast": preds["predicted"].astype(float).to_numpy(),
            }
        )

    result = backtest.backtest(hours, forecaster, folds, yardstick=HOURLY)
    return HeldOut(Evaluation(result, yardstick=HOURLY), latest[0])


def evaluate(
    client: MindsDBClient,
    twin: ModelSpec,
    hours: pd.DataFrame,
    *,
    timeout: float,
    log: Callable[[str], None],
) -> HeldOut:
    """The backtest of `twin`, retrained before each fold on every hour before it."""
    seconds = 0.0

    def predict(start: datetime, end: datetime) -> pd.DataFrame:
        nonlocal seconds
        log(
            f"held out from {start:%Y-%m-%d %H:%M}: training {twin.qualified_name} on the hours before"
        )
        seconds += training.train(client, twin, before=start, timeout=timeout, log=log).seconds
        preds = training.held_out_predictions(client, twin, start, end)
        if preds.empty:
            raise ValueError(f"{twin.qualified_name} predicted no held-out hour from {start}")
        return preds

    held = score(hours, predict)
    return HeldOut(Evaluation(held.evaluation.result, seconds, HOURLY), held.predictions)
