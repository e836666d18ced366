"""The rolling-origin backtest (issue 23): panel, folds, baselines, metrics and the verdict.

Pure: no server. The expected numbers are worked out by hand here, never by the module itself.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from profiteer_pipeline.model import backtest as bt

D = pd.Timestamp  # a day


def sales(product: str, first_day: str, units: list[int]) -> pd.DataFrame:
    """Daily sales of one product from `first_day`; only the days that sold (a sparse log)."""
    days = pd.date_range(first_day, periods=len(units))
    frame = pd.DataFrame({"product_id": product, "day": days, "units": units})
    return frame[frame["units"] > 0]


def constant(value: float):
    """A forecaster of `value` units for every product-day it is asked about."""

    def forecast(history: pd.DataFrame, origin: pd.Timestamp, horizon: int) -> pd.DataFrame:
        return bt.trailing_mean(history, origin, horizon).assign(forecast=value)

    return forecast


# Five weeks, Monday 2024-01-01 to Sunday 2024-02-04; the folds start on the 15th, 22nd, 29th.
# A sells from the 1st in a weekly pattern, B from the 15th, C only from Friday the 26th.
A_WEEK = [2, 0, 0, 1, 0, 0, 3]
A_LAST = [1, 0, 0, 2, 0, 0, 3]
B_WEEK = [1, 0, 1, 0, 1, 0, 1]
B_LAST = [0, 0, 1, 0, 0, 0, 2]


@pytest.fixture
def tiny() -> pd.DataFrame:
    return bt.daily_panel(
        pd.concat(
            [
                sales("A", "2024-01-01", A_WEEK * 4 + A_LAST),
                sales("B", "2024-01-15", B_WEEK * 2 + B_LAST),
                sales("C", "2024-01-26", [2, 2, 2] + [5] * 7),
            ]
        )
    )


# --- panel and folds ------------------------------------------------------------------------


def test_daily_panel_is_dense_from_each_first_sale_to_the_last_day():
    frame = pd.DataFrame(
        {
            "sku": ["x", "x", "x", "y", "y"],
            "at": pd.to_datetime(
                ["2024-03-01 09:00", "2024-03-01 17:00", "2024-03-04 12:00"]
                + ["2024-02-28 10:00", "2024-03-02 10:00"]
            ),
            "qty": [1, 2, 4, 0, 3],  # y's zero row is not a sale: y starts on 2 March
        }
    )
    panel = bt.daily_panel(frame, product="sku", day="at", units="qty")
    assert list(panel.columns) == ["product_id", "day", "units"]
    x = panel[panel["product_id"] == "x"]
    assert list(x["day"]) == list(pd.date_range("2024-03-01", "2024-03-04"))
    assert list(x["units"]) == [3, 0, 0, 4]
    y = panel[panel["product_id"] == "y"]
    assert list(y["day"]) == list(pd.date_range("2024-03-02", "2024-03-04"))
    assert list(y["units"]) == [3, 0, 0]


def test_daily_panel_cuts_tz_aware_timestamps_to_their_local_day():
    at = pd.to_datetime(["2024-03-30 23:30", "2024-04-02 00:30"]).tz_localize("Europe/Berlin")
    panel = bt.daily_panel(pd.DataFrame({"product_id": "x", "day": at, "units": [1, 1]}))
    assert list(panel["day"]) == list(pd.date_range("2024-03-30", "2024-04-02"))  # over DST
    assert list(panel["units"]) == [1, 0, 0, 1]


def test_fold_origins_are_three_consecutive_weeks_ending_on_the_last_day():
    origins = bt.fold_origins("2024-02-04", folds=3, horizon=7)
    assert origins == [D("2024-01-15"), D("2024-01-22"), D("2024-01-29")]
    ends = [o + pd.Timedelta(days=6) for o in origins]
    assert ends[-1] == D("2024-02-04")
    gaps = [o - e for o, e in zip(origins[1:], ends[:-1], strict=True)]
    assert gaps == [pd.Timedelta(days=1)] * 2  # consecutive, no overlap
    with pytest.raises(ValueError):
        bt.fold_origins("2024-02-04", folds=0)


# --- baselines -----------------------------------------------------------------------------


def test_baselines_on_the_tiny_panel(tiny):
    origin = D("2024-01-29")
    naive = bt.seasonal_naive(tiny, origin, 7).set_index(["product_id", "day"])["forecast"]
    assert set(naive.index.get_level_values(0)) == {"A", "B"}  # C is 3 days old
    assert list(naive.loc["A"]) == A_WEEK
    assert list(naive.loc["B"]) == B_WEEK
    mean = bt.trailing_mean(tiny, origin, 7).groupby("product_id")["forecast"].agg(["min", "max"])
    assert mean.loc["A", "min"] == mean.loc["A", "max"] == pytest.approx(24 / 28)
    assert mean.loc["B", "max"] == pytest.approx(8 / 14)  # over the 14 days B existed, not 28
    assert mean.loc["C", "max"] == pytest.approx(6 / 3)


def test_seasonal_naive_forecasts_a_weekly_pattern_perfectly():
    panel = bt.daily_panel(
        pd.concat(
            [
                sales("p", "2024-01-01", [3, 0, 1, 0, 0, 5, 2] * 6),
                sales("q", "2024-01-03", [1, 4, 0, 0, 2, 0, 0] * 6),
            ]
        )
    )
    for folds, horizon in [(3, 7), (2, 14)]:  # 14 days: the second week repeats the last one
        result = bt.backtest(panel, constant(1.0), folds=folds, horizon=horizon)
        naive = result.metrics[result.metrics["method"] == bt.SEASONAL_NAIVE]
        assert len(naive) == folds + 1
        assert (naive["rmsse"] == 0).all(), naive
        assert (naive["poisson_deviance"] == 0).all()
        assert (naive["mae"] == 0).all()
        assert result.beats(bt.SEASONAL_NAIVE) is False


def test_baselines_read_only_days_before_the_origin(tiny):
    origin = D("2024-01-29")
    leaked = tiny.copy()
    leaked.loc[leaked["day"] >= origin, "units"] += 100
    for baseline in (bt.trailing_mean, bt.seasonal_naive):
        for horizon in (7, 14):
            pd.testing.assert_frame_equal(
                baseline(tiny, origin, horizon), baseline(leaked, origin, horizon)
            )


def test_the_forecaster_sees_only_the_history():
    panel = bt.daily_panel(sales("p", "2024-01-01", [1, 0, 2] * 14))
    seen = []

    def forecaster(history, origin, horizon):
        seen.append((history["day"].max(), origin))
        return bt.trailing_mean(history, origin, horizon)

    bt.backtest(panel, forecaster)
    assert [o for _, o in seen] == bt.fold_origins(panel["day"].max())
    assert all(last == origin - pd.Timedelta(days=1) for last, origin in seen)


# --- metrics, worked out by hand -------------------------------------------------------------


def test_one_fold_by_hand(tiny):
    result = bt.backtest(tiny, constant(1.0), folds=3, horizon=7)
    folds = result.folds.set_index("fold")
    # fold 1 (15th): B sold first that day, C not yet; fold 2 (22nd): B is exactly a week old,
    # C first sells inside it; fold 3 (29th): C is 3 days old
    assert list(folds["too_young"]) == [1, 1, 1]
    assert list(folds["rows"]) == [7, 14, 14]
    model = result.metrics.set_index(["method", "fold"]).loc[("model", 3)]

    # fold 3, forecast 1 every day. A's history: 4 × [2,0,0,1,0,0,3], 27 one-day changes:
    # per week 4+0+1+1+0+9 = 15, between weeks (3 -> 2) 1, three times: 63 / 27.
    # A's held-out [1,0,0,2,0,0,3]: squared errors 0+1+1+1+1+1+4 = 9, over 7 days.
    rmsse_a = math.sqrt((9 / 7) / (63 / 27))
    # B's history [1,0,1,0,1,0,1, 1,0,1,0,1,0,1]: 13 changes, 12 of them by 1: 12 / 13.
    # B's held-out [0,0,1,0,0,0,2]: squared errors 1+1+0+1+1+1+1 = 6, over 7 days.
    rmsse_b = math.sqrt((6 / 7) / (12 / 13))
    assert model["rmsse"] == pytest.approx((rmsse_a + rmsse_b) / 2)
    assert model["rmsse"] == pytest.approx(0.85297, abs=1e-5)

    # Poisson deviance at ŷ = 1: y=0 -> 2·(0 − (0 − 1)) = 2; y=1 -> 0;
    # y=2 -> 2·(2·ln 2 − 1); y=3 -> 2·(3·ln 3 − 2). A: four 0s, a 1, a 2, a 3; B: five 0s, a 1, a 2.
    two = 2 * (2 * math.log(2) - 1)
    three = 2 * (3 * math.log(3) - 2)
    assert model["poisson_deviance"] == pytest.approx((4 * 2 + two + three + 5 * 2 + two) / 14)

    # MAE: A 0+1+1+1+1+1+2 = 7, B 1+1+0+1+1+1+1 = 6, over 14 product-days (C left out)
    assert model["mae"] == pytest.approx(13 / 14)
    assert model["rows"] == 14

    # the seasonal naive on the same fold: A [2,0,0,1,0,0,3], B [1,0,1,0,1,0,1]
    naive = result.metrics.set_index(["method", "fold"]).loc[("seasonal_naive", 3)]
    # A: squared errors 1+0+0+1+0+0+0 = 2; B: 1+0+0+0+1+0+1 = 3
    assert naive["rmsse"] == pytest.approx(
        (math.sqrt((2 / 7) / (63 / 27)) + math.sqrt((3 / 7) / (12 / 13))) / 2
    )
    # A: y=1,ŷ=2 -> 2·(ln ½ + 1); y=2,ŷ=1 -> 2·(2·ln 2 − 1); y=0,ŷ=0 and y=ŷ -> 0.
    # B: y=0,ŷ=1 twice -> 2 each; y=2,ŷ=1 -> 2·(2·ln 2 − 1)
    assert naive["poisson_deviance"] == pytest.approx(
        (2 * (math.log(0.5) + 1) + two + 2 * 2 + two) / 14
    )
    assert naive["mae"] == pytest.approx((2 + 3) / 14)


def test_rmsse_weights_and_the_metric_functions_by_hand(tiny):
    origin = D("2024-01-29")
    actual = tiny[(tiny["day"] >= origin) & tiny["product_id"].isin(["A", "B"])]
    history = tiny[tiny["day"] < origin]
    rmsse_a = math.sqrt((9 / 7) / (63 / 27))
    rmsse_b = math.sqrt((6 / 7) / (12 / 13))
    plain = bt.rmsse(actual, np.ones(len(actual)), history)
    assert (plain.value, plain.products, plain.zero_scale) == (
        pytest.approx((rmsse_a + rmsse_b) / 2),
        2,
        0,
    )
    weighted = bt.rmsse(actual, np.ones(len(actual)), tiny, weights={"A": 3.0, "B": 1.0})
    assert weighted.value == pytest.approx((3 * rmsse_a + rmsse_b) / 4)

    assert bt.mae([0, 2, 1], [1, 1, 1]) == pytest.approx(2 / 3)
    # y=0,ŷ=0 costs nothing; y=1,ŷ=0 is clipped to 1e-6 inside the log: 2·(ln 1e6 − 1)
    assert bt.poisson_deviance([0, 1], [0.0, 0.0]) == pytest.approx(
        (0 + 2 * (math.log(1e6) - 1)) / 2
    )


def test_a_never_changing_history_is_left_out_of_rmsse_and_counted():
    panel = bt.daily_panel(
        pd.concat(
            [
                sales("flat", "2024-01-01", [2] * 28 + [1] * 7),
                sales("busy", "2024-01-01", [1, 3] * 14 + [2] * 7),
            ]
        )
    )
    origin = D("2024-01-29")
    actual = panel[panel["day"] >= origin]
    scored = bt.rmsse(actual, np.full(len(actual), 2.0), panel)
    assert (scored.products, scored.zero_scale) == (1, 1)
    # busy: changes of 2 every day (scale 4), errors 0 -> only flat erred, but it has no scale
    assert scored.value == 0.0
    assert math.isnan(scored.per_product["flat"])
    result = bt.backtest(panel, constant(2.0), folds=1)
    assert result.folds["zero_scale"].tolist() == [1]
    assert result.metrics["rows"].max() == 14  # its days still count for deviance and MAE
    assert "never changing" in result.summary()


# --- the verdict -----------------------------------------------------------------------------


def test_an_all_zero_forecast_wins_mae_but_loses_where_it_counts():
    rng = np.random.default_rng(23)
    n_products, n_days = 30, 63
    frame = pd.DataFrame(
        {
            "product_id": np.repeat([f"p{i:02d}" for i in range(n_products)], n_days),
            "day": np.tile(pd.date_range("2024-01-01", periods=n_days), n_products),
            "units": rng.poisson(0.3, n_products * n_days),  # most days sell nothing
        }
    )
    panel = bt.daily_panel(frame)
    assert (panel["units"] == 0).mean() > 0.6
    result = bt.backtest(panel, constant(0.0))
    model = result.metrics.set_index(["method", "fold"])
    zero, mean = model.loc[("model", "all")], model.loc[("trailing_mean", "all")]
    assert zero["mae"] < mean["mae"]  # MAE alone rewards forecasting nothing
    assert zero["rmsse"] > mean["rmsse"]
    assert zero["poisson_deviance"] > mean["poisson_deviance"]
    assert result.improvement(bt.MODEL, bt.TRAILING_MEAN, "mae") > 0
    assert result.improvement(bt.MODEL, bt.TRAILING_MEAN, "poisson_deviance") < 0
    assert not result.beats(bt.TRAILING_MEAN) and not result.meets_goal


def overall(model: tuple[float, float], naive: tuple[float, float], mean: tuple[float, float]):
    """A result with only these overall (RMSSE, Poisson deviance) figures."""
    rows = [
        (method, "all", r, d, 0.5, 70)
        for method, (r, d) in [("model", model), ("seasonal_naive", naive), ("trailing_mean", mean)]
    ]
    folds = pd.DataFrame([{"fold": 1, "rows": 70, "too_young": 0, "zero_scale": 0}])
    return bt.BacktestResult(
        pd.DataFrame(rows, columns=list(bt.METRIC_COLUMNS)), folds, pd.DataFrame(), 7
    )


def test_beats_needs_both_metrics_and_a_tie_does_not_beat():
    assert overall((0.8, 0.9), (1.0, 1.0), (0.9, 1.0)).beats(bt.TRAILING_MEAN)
    assert not overall((0.8, 1.1), (1.0, 1.0), (0.9, 1.0)).beats(bt.TRAILING_MEAN)
    assert not overall((0.95, 0.9), (1.0, 1.0), (0.9, 1.0)).beats(bt.TRAILING_MEAN)
    assert not overall((0.9, 0.9), (1.0, 1.0), (0.9, 1.0)).beats(bt.TRAILING_MEAN)  # RMSSE tie
    # the goal: also at least 20 % below the seasonal naive on both
    assert overall((0.8, 0.8), (1.0, 1.0), (0.9, 1.0)).meets_goal
    assert not overall((0.8, 0.81), (1.0, 1.0), (0.9, 1.0)).meets_goal


def test_the_trailing_mean_as_model_ties_and_does_not_beat(tiny):
    result = bt.backtest(tiny, bt.trailing_mean)
    assert result.improvement(bt.MODEL, bt.TRAILING_MEAN, "rmsse") == 0
    assert not result.beats(bt.TRAILING_MEAN)
    text = result.summary()
    assert "28-day mean (±0 %)" in text
    assert "3 folds of 7 days, 35 product-days" in text


def test_summary_reads_as_one_sentence():
    text = overall((0.84, 0.9), (1.02, 1.1), (0.88, 0.95)).summary()
    assert text.startswith(
        "RMSSE 0.84 vs 1.02 seasonal naive (−18 %) and 0.88 28-day mean (−5 %); "
        "Poisson deviance 0.90 vs 1.10 seasonal naive (−18 %) and 0.95 28-day mean (−5 %); "
        "1 fold of 7 days, 70 product-days"
    )


def test_a_forecaster_that_skips_product_days_is_refused(tiny):
    def partial(history, origin, horizon):
        return bt.trailing_mean(history, origin, horizon).iloc[1:]

    with pytest.raises(ValueError, match="model: no forecast for 1 of"):
        bt.backtest(tiny, partial)


def test_the_shops_held_out_day_against_the_same_hour_yesterday_and_its_weekly_mean():
    """The same backtest at product-hour (`figures.HOURLY`), by hand: one fold of the latest 24
    hours; the seasonal naive is the same hour the day before, the trailing mean the same hour's
    mean over the days before (up to 7); only hours before the held-out day are read; a product
    younger than a day at the origin is left out and counted."""
    from profiteer_pipeline.model.figures import HOURLY

    hours = pd.date_range("2026-05-01", periods=24 * 3, freq="h")  # 2 days of history, 1 held out
    level = {"A": 10.0, "B": 4.0}  # day 1: the level, day 2: +1, the held-out day 3: +2
    panel = pd.DataFrame(
        [(p, h, level[p] + (h.day - 1)) for p in level for h in hours]
        + [("NEW", h, 3.0) for h in hours[48:]],  # a product that was not there the day before
        columns=["product_id", "day", "units"],
    )
    origin = hours[48]
    assert bt.fold_origins(hours[-1], HOURLY.folds, HOURLY.horizon, HOURLY) == [origin]
    seen = []

    def perfect(history: pd.DataFrame, start: pd.Timestamp, horizon: int) -> pd.DataFrame:
        seen.append((history["day"].max(), start, horizon))
        held = panel[panel["day"] >= start]
        return held.rename(columns={"units": "forecast"})

    # the held-out day itself is never read by the baselines: a leak would move them
    leaky = panel.assign(units=panel["units"].where(panel["day"] < origin, 1e6))
    naive = bt.seasonal_naive(leaky[leaky["day"] < origin], origin, 24, HOURLY)
    assert (naive.loc[naive["product_id"] == "A", "forecast"] == 11.0).all()  # day 2, same hour
    mean = bt.trailing_mean(leaky[leaky["day"] < origin], origin, 24, HOURLY)
    assert (mean.loc[mean["product_id"] == "A", "forecast"] == 10.5).all()  # days 1 and 2

    result = bt.backtest(panel, perfect, HOURLY.folds, HOURLY.horizon, yardstick=HOURLY)
    assert seen == [(hours[47], origin, 24)]
    (fold,) = result.folds.to_dict("records")
    assert (fold["rows"], fold["products"], fold["too_young"]) == (48, 2, 1)
    figure = {f"{m}_{k}": result.overall(m, k) for m, k in bt.FIGURES}
    assert figure["model_mae"] == 0.0 and figure["model_poisson_deviance"] == pytest.approx(0)
    assert figure["seasonal_naive_mae"] == 1.0 and figure["trailing_mean_mae"] == 1.5
    # RMSSE is scaled by the hour-to-hour change of the history: one step of 1 in 47 changes
    assert figure["model_rmsse"] == 0.0
    assert figure["seasonal_naive_rmsse"] == pytest.approx(math.sqrt(47))
    assert figure["trailing_mean_rmsse"] == pytest.approx(1.5 * math.sqrt(47))
    assert result.summary().endswith(
        "1 fold of 24 hours, 48 product-hours (products left out over the folds: 1 younger "
        "than 24 hours)"
    )
    assert "RMSSE 0.00 vs 6.86 seasonal naive (−100 %) and 10.28 same-hour mean" in result.summary()
