"""The names of the figures every source's evaluation reports: each method (the model and the two
baselines a forecaster would use) by each metric, and how each grain's model is held out and
what it must beat there (`Yardstick`). No numpy or pandas: table declarations and asset
descriptions read them while the code location loads."""

from dataclasses import dataclass

MODEL = "model"
SEASONAL_NAIVE = "seasonal_naive"
TRAILING_MEAN = "trailing_mean"
METHODS = (MODEL, SEASONAL_NAIVE, TRAILING_MEAN)
#: The two metrics a model must beat a baseline on (MAE rewards forecasting zero).
DECIDING = ("rmsse", "poisson_deviance")
#: (method, metric): each method's RMSSE, Poisson deviance and MAE
FIGURES = tuple((method, metric) for metric in (*DECIDING, "mae") for method in METHODS)
#: their names in result tables and run metadata (`model_rmsse`, `trailing_mean_mae`, ...)
METRIC_FIELDS = tuple(f"{method}_{metric}" for method, metric in FIGURES)


@dataclass(frozen=True)
class Yardstick:
    """How a grain's model is held out and what it must beat: in numbers, which the backtest
    reads (`model.backtest`), and as sentences say it. One step is a row of the grain's panel."""

    grain: str  # what a row of the panel is: "product-day", "product-hour"
    unit: str  # one step, as a word: "day", "hour"
    step_hours: int  # one step's length
    horizon: int  # steps held out per fold
    folds: int  # folds at most, one after the other, the last ending at the latest step
    season: int  # the seasonal naive's lag, in steps; a product must be this old at an origin
    trailing: int  # how many earlier steps the trailing mean averages...
    stride: int  # ...this many steps apart (1: the latest days; 24: the same hour, daily)
    baseline: str  # the trailing mean the model must beat out of sample
    short: str  # the same, on a card
    seasonal: str  # the seasonal naive forecast, the other baseline
    how: str  # how the figures were made
    too_short: str  # what a history too short to evaluate lacks

    def not_evaluated(self) -> str:
        return (
            f"The model was not evaluated: the data are too short for {self.too_short}, so "
            f"nobody knows whether it beats the {self.baseline}."
        )


#: An import's model, at product-day: rolling-origin weekly folds (`backtest_twins`).
DAILY = Yardstick(
    grain="product-day",
    unit="day",
    step_hours=24,
    horizon=7,
    folds=3,
    season=7,
    trailing=28,
    stride=1,
    baseline="product's 28-day mean",
    short="28-day mean",
    seasonal="seasonal naive (same weekday last week)",
    how="weekly folds at product-day",
    too_short="a week held out after a week of history",
)
#: The simulated shop's model, at product-hour: its latest day held out (`shop_backtest`).
HOURLY = Yardstick(
    grain="product-hour",
    unit="hour",
    step_hours=1,
    horizon=24,
    folds=1,
    season=24,
    trailing=7,
    stride=24,
    baseline="same-hour 7-day mean",
    short="same-hour mean",
    seasonal="same hour the day before",
    how="the latest 24 hours held out, at product-hour",
    too_short="a day held out",
)
