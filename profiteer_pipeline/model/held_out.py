"""A model's verdict out of sample, at its grain: the backtest of its twin (`model.backtest`,
folds of the grain's `figures.Yardstick`), or none where the data are too short to hold a fold
out. Every source's model is judged by it: an import's weekly folds at product-day
(`backtest_twins`), the shop's latest day at product-hour (`shop_backtest`).

Pure pandas (no Dagster, no server).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from profiteer_pipeline.model import backtest
from profiteer_pipeline.model.figures import DAILY, Yardstick
from profiteer_pipeline.pricing import advice_table as at


def n_folds(panel: pd.DataFrame, yardstick: Yardstick = DAILY) -> int:
    """How many folds the panel allows (at most the yardstick's), each after at least a season
    of history (a week of days; a day of hours)."""
    if panel.empty:
        return 0
    steps = (panel["day"].max() - panel["day"].min()) // backtest.step(yardstick) + 1
    return max(0, min(yardstick.folds, (steps - yardstick.season) // yardstick.horizon))


@dataclass(frozen=True)
class Evaluation:
    """The backtest's verdict (`result` None: the data were too short to hold a fold out)."""

    result: backtest.BacktestResult | None
    twin_seconds: float = 0.0
    yardstick: Yardstick = field(default=DAILY)

    @property
    def figures(self) -> dict[str, float | None]:
        """`backtest.METRIC_FIELDS`: each method's figures over all folds (None when not
        evaluated); the columns of `model_evaluation` and the run's metadata."""
        if self.result is None:
            return dict.fromkeys(backtest.METRIC_FIELDS)
        return {
            name: self.result.overall(method, metric)
            for name, (method, metric) in zip(backtest.METRIC_FIELDS, backtest.FIGURES, strict=True)
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
    def meets_goal(self) -> bool:
        """At least 20 % below the seasonal naive and below the trailing mean, on both metrics
        (`backtest.BacktestResult.meets_goal`); never when not evaluated."""
        return self.result is not None and self.result.meets_goal

    @property
    def beats_baseline(self) -> bool:
        return self.no_advice_reason() is None

    def no_advice_reason(self) -> str | None:
        """None when the model beats the trailing mean on both metrics, else why no product
        gets a price (the same words the app shows for a stored evaluation)."""
        figures = self.figures if self.result is not None else None
        return at.no_advice_reason(figures, self.yardstick)

    def summary(self) -> str:
        if self.result is None:
            return self.yardstick.not_evaluated()
        return self.result.summary()
