"""Can the simulated shop go through the import's count model at an hourly grain?

    .venv/bin/python benchmarks/bench_shop_grain.py                 # 2, 7 and 30 days
    .venv/bin/python benchmarks/bench_shop_grain.py --days 30 --json out.json

No server: the import's model (`model.count_model.CountDemandModel`: LightGBM, Tweedie
objective, purchases never rising with `price_ratio`), run as MindsDB's BYOM engine runs it (the
file alone, in MindsDB's Python, where lightgbm is; in this process if lightgbm imports here),
trained on the shop's hourly rows (`synth.generate_window`, the default catalog, the default seed,
ending at END) with two sets of inputs:

- funnel: the shop's inputs (views, cart_adds, price_ratio, popularity_factor, as
  `model.spec.FEATURES`) plus product_id, category and time_of_day_bucket. The hour's own views and
  cart adds are inputs, as in lightwood's held-out figure: a nowcast given the funnel.
- no funnel: what an order export has per hour: product_id, category, price_ratio, hour_of_day,
  day_of_week and the units in the 24 and 168 hours before the hour (never the hour itself).
  Scored twice on the same twin: lags rolling (each held-out hour sees the hours before it: one
  hour ahead) and lags frozen at the origin (a day ahead, as the import's backtest freezes them).

For each number of days: a twin trained on all hours but the latest 24, scored on those 24
(product-hours): R², MAE, RMSSE (`model.backtest.rmsse`: scaled by the mean squared one-hour
change of each product's history) and the mean Poisson deviance (`model.backtest`), beside the
seasonal naive (same product, same hour yesterday) and the trailing mean (same product and hour
of day over the previous 7 days, or all previous days if fewer). Lightwood's figures on the same
held-out rows (`bench_model.py`: the same END and seed; quoted, not rerun): R² 0.951, MAE 9.98
with 48 hours; R² 0.992, MAE 4.59 with 30 days (training 3.0 s and 8.9 s on a MindsDB server).

Then the price response of a model trained on all hours, against the truth: for each product
and time-of-day bucket, its typical hour (`model.profile.whatif_profile` of the bucket's mean
views, cart adds and popularity, as the shop's check reads them), the model's purchases over
`--grid` prices across [min_price, max_price] and the generator's expected purchases there,
E[max(1, floor(cart_adds x U(0.16, 0.19) x demand(price)))] (SEED-GENERATOR.md). Printed: the
curves that fall (`pricing.curves.price_response`: none rising beyond tolerance, each falling by
5 % and 0.05 units), and the revenue-optimal grid price of the model against the true one (median
|difference| as % of the base price), over the whole grid and over the grid prices inside the
prices the product was sold at (an import's curves span only those: trees extrapolate flat).
The no-funnel curve of a bucket is the mean over its hours, with demand as known at the end (its
lags); its truth is taken at the bucket's typical hour of the latest week, the level its lags see.

Last, the product-day grain (`model.daily_features.build`: the import's inputs, the day's average
price paid as its price): the import's rolling-origin backtest (`backtest_twins.fold_inputs`,
`backtest.backtest`: weekly folds against the seasonal naive and the 28-day mean; none under 14
days) and its price response against the true units per day. Training time of every fit.
Figures, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import subprocess
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from profiteer_pipeline import settings
from profiteer_pipeline.model import backtest, count_model, engine, evaluation, held_out
from profiteer_pipeline.model import backtest_twins as twins
from profiteer_pipeline.model import daily_features as mf
from profiteer_pipeline.model.profile import whatif_profile
from profiteer_pipeline.pricing import curves as import_curves
from profiteer_pipeline.pricing.grid import price_grid
from profiteer_pipeline.synth import generate_window, load_default_catalog
from profiteer_pipeline.synth.constants import (
    DEMAND_STEEPNESS,
    PRICE_SENSITIVITY,
    PURCHASE_FLOOR,
    PURCHASE_RATE,
)
from profiteer_pipeline.synth.time_of_day import bucket_of_hour

END = datetime(2026, 3, 1, tzinfo=UTC)  # the data end just before this hour (as bench_model)
HOLD_OUT = pd.Timedelta(hours=24)
TARGET = "purchases"
LAG_HOURS = (24, 168)
LAGS = tuple(f"units_prev_{n}h" for n in LAG_HOURS)
FUNNEL = (
    "product_id",
    "category",
    "time_of_day_bucket",
    "views",
    "cart_adds",
    "price_ratio",
    "popularity_factor",
)
NO_FUNNEL = ("product_id", "category", "price_ratio", "hour_of_day", "day_of_week", *LAGS)
FEATURE_SETS = {"funnel": FUNNEL, "no funnel": NO_FUNNEL}
USING = {"using": engine.using(mf.CATEGORICAL)}
#: days -> (R², MAE, training s) of the shop's lightwood model on the very same held-out rows
#: (same END and seed), measured by `bench_model.py` (48 h and 30 days of history; not rerun
#: here; its training time is CREATE MODEL until complete, on all the days)
LIGHTWOOD = {2: (0.951, 9.98, 3.0), 30: (0.992, 4.59, 8.9)}
RECENT_HOURS = 168  # the no-funnel truth: the typical hour of the latest week (its lag window)
U_POINTS = 2001  # midpoints of U(0.16, 0.19) for the expected purchases


# --- data ------------------------------------------------------------------------------------


def catalog_frame() -> pd.DataFrame:
    fields = ("product_id", "category", "base_price", "min_price", "max_price")
    return pd.DataFrame([{f: getattr(p, f) for f in fields} for p in load_default_catalog()])


def hourly(days: int) -> pd.DataFrame:
    """The shop's rows of the `days` days before END, with the model's inputs; each lag counts
    the product's units in the n hours before the row (fewer at the start of the data)."""
    raw = generate_window(load_default_catalog(), END - timedelta(days=days), END)
    df = raw.sort_values(["product_id", "timestamp"], ignore_index=True)
    df["price_ratio"] = df["current_price"] / df["base_price"]
    df["hour_of_day"] = df["timestamp"].dt.hour
    df["day_of_week"] = df["timestamp"].dt.dayofweek
    units = df[TARGET].astype(float).groupby(df["product_id"])
    for name, n in zip(LAGS, LAG_HOURS, strict=True):
        df[name] = units.transform(
            lambda s, n=n: s.rolling(n, min_periods=1).sum().shift(1, fill_value=0.0)
        )
    return df


def demand_at(df: pd.DataFrame, origin: pd.Timestamp) -> pd.DataFrame:
    """Per product (index): each lag as known at `origin` (units in the n hours before it)."""
    before = df[df["timestamp"] < origin]
    out = pd.DataFrame(index=pd.Index(sorted(df["product_id"].unique()), name="product_id"))
    for name, n in zip(LAGS, LAG_HOURS, strict=True):
        recent = before[before["timestamp"] >= origin - pd.Timedelta(hours=n)]
        out[name] = recent.groupby("product_id")[TARGET].sum().reindex(out.index).fillna(0.0)
    return out


class CountModels:
    """`CountDemandModel` where MindsDB runs it: lightgbm ships with MindsDB's environment, not
    the pipeline's, so the file runs in one worker process of MindsDB's Python (as its BYOM
    engine runs it: the file alone, `train` on a fresh instance, `predict` on an instance whose
    `__dict__` is the state `train` left). In-process when lightgbm imports here."""

    WORKER = textwrap.dedent(
        """
        import importlib.util, os, pickle, sys, time
        import pandas as pd
        out = os.fdopen(os.dup(1), "wb")
        os.dup2(2, 1)  # anything the model prints goes to stderr, not into the replies
        spec = importlib.util.spec_from_file_location("count_model", sys.argv[1])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        import lightgbm  # noqa: F401 (train imports it: not in the first fit's time)
        while True:
            try:
                kind, state, columns, target, args = pickle.load(sys.stdin.buffer)
            except EOFError:
                break
            model = module.CountDemandModel()
            frame = pd.DataFrame(columns)
            if kind == "train":
                t = time.perf_counter()
                model.train(frame, target, args)
                reply = (dict(model.__dict__), time.perf_counter() - t)
            else:
                model.__dict__.update(state)
                reply = model.predict(frame).iloc[:, 0].to_numpy()
            pickle.dump(reply, out)
            out.flush()
        """
    )

    def __init__(self) -> None:
        self.proc = None
        try:
            import lightgbm  # noqa: F401
        except ImportError:
            python = settings.mindsdb_venv() / "bin" / "python"
            if not python.exists():
                raise SystemExit(
                    f"lightgbm is not importable here and {python} is missing: make mindsdb"
                ) from None
            self.proc = subprocess.Popen(
                [str(python), "-c", self.WORKER, count_model.__file__],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            )  # fmt: skip

    def close(self) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)

    def _ask(self, *request):
        # plain arrays both ways: the two environments' pandas versions differ
        pickle.dump(request, self.proc.stdin)
        self.proc.stdin.flush()
        return pickle.load(self.proc.stdout)

    def fit(self, rows: pd.DataFrame, features, target: str = TARGET) -> tuple[dict, float]:
        """(the trained state, seconds of `train` itself) on `features` -> `target`."""
        frame = rows[[*features, target]].reset_index(drop=True)
        if self.proc is None:
            model = count_model.CountDemandModel()
            t = time.perf_counter()
            model.train(frame, target, USING)
            return dict(model.__dict__), time.perf_counter() - t
        return self._ask("train", None, _columns(frame), target, USING)

    def predict(self, state: dict, rows: pd.DataFrame) -> np.ndarray:
        frame = rows[state["features"]].reset_index(drop=True)
        if self.proc is None:
            model = count_model.CountDemandModel()
            model.__dict__.update(state)
            return model.predict(frame)[state["target"]].to_numpy()
        return self._ask("predict", state, _columns(frame), None, None)


def _columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy() for c in frame.columns}


MODELS: CountModels  # set by main


def fit(rows: pd.DataFrame, features, target: str = TARGET) -> tuple[dict, float]:
    return MODELS.fit(rows, features, target)


def predict(state: dict, rows: pd.DataFrame) -> np.ndarray:
    return MODELS.predict(state, rows)


# --- held-out scores -------------------------------------------------------------------------


def seasonal_naive(df: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """The product's purchases 24 hours earlier (NaN where the data do not reach back)."""
    prev = df[["product_id", "timestamp", TARGET]].assign(timestamp=df["timestamp"] + HOLD_OUT)
    out = test[["product_id", "timestamp"]].merge(prev, on=["product_id", "timestamp"], how="left")
    return out[TARGET].to_numpy(dtype=float)


def trailing_mean(df: pd.DataFrame, test: pd.DataFrame, origin, window: int = 7):
    """The product's mean purchases at the same hour of day over the `window` days before
    `origin` (all of them if fewer); (forecast, days used)."""
    days = min(window, int((origin - df["timestamp"].min()) / pd.Timedelta(days=1)))
    if days < 1:
        return np.full(len(test), np.nan), 0
    hist = df[(df["timestamp"] < origin) & (df["timestamp"] >= origin - pd.Timedelta(days=days))]
    mean = hist.groupby(["product_id", "hour_of_day"])[TARGET].mean().rename("f").reset_index()
    out = test[["product_id", "hour_of_day"]].merge(
        mean, on=["product_id", "hour_of_day"], how="left"
    )
    return out["f"].to_numpy(dtype=float), days


def score(test: pd.DataFrame, forecast: np.ndarray, history: pd.DataFrame) -> dict | None:
    if np.isnan(forecast).any():
        return None
    y = test[TARGET].to_numpy(dtype=float)
    f = np.clip(forecast, 0.0, None)
    actual = pd.DataFrame(
        {"product_id": test["product_id"].to_numpy(), "day": test["timestamp"].array, "units": y}
    )
    panel = history.rename(columns={"timestamp": "day", TARGET: "units"})[
        ["product_id", "day", "units"]
    ]
    return {
        "r2": evaluation.regression_metrics(y, f)["r2"],
        "mae": backtest.mae(y, f),
        "rmsse": backtest.rmsse(actual, f, panel).value,
        "poisson_deviance": backtest.poisson_deviance(y, f),
    }


# --- price response --------------------------------------------------------------------------


def true_purchases(cart_adds: np.ndarray, price: np.ndarray, base: np.ndarray) -> np.ndarray:
    """The generator's expected purchases of an hour with these cart adds at this price."""
    demand = 1.0 / (1.0 + np.exp(DEMAND_STEEPNESS * (price - base) / (PRICE_SENSITIVITY * base)))
    lo, hi = PURCHASE_RATE
    u = lo + (hi - lo) * (np.arange(U_POINTS) + 0.5) / U_POINTS
    draws = np.floor(np.asarray(cart_adds * demand)[:, None] * u[None, :])
    return np.maximum(PURCHASE_FLOOR, draws).mean(axis=1)


def profiles(df: pd.DataFrame, cat: pd.DataFrame, hours: int | None = None) -> pd.DataFrame:
    """Each product's typical hour in each bucket, as the shop's price check reads it: the means
    over all the data, or over the latest `hours`."""
    if hours is not None:
        df = df[df["timestamp"] >= df["timestamp"].max() - pd.Timedelta(hours=hours - 1)]
    buckets = (
        df.groupby(["product_id", "time_of_day_bucket"])
        .agg(
            hours=("timestamp", "size"),
            avg_views=("views", "mean"),
            avg_cart_adds=("cart_adds", "mean"),
            avg_popularity_factor=("popularity_factor", "mean"),
            avg_rating=("rating", "mean"),
        )
        .reset_index()
    )
    products = cat.set_index("product_id")
    return pd.DataFrame(
        [
            whatif_profile({"product_id": b["product_id"], **products.loc[b["product_id"]]}, b)
            for b in buckets.to_dict("records")
        ]
    )


def price_rows(cat: pd.DataFrame, points: int) -> pd.DataFrame:
    """product_id, price: `points` prices over each product's [min_price, max_price]."""
    return pd.concat(
        [
            pd.DataFrame(
                {"product_id": r.product_id, "price": price_grid(r.min_price, r.max_price, points)}
            )
            for r in cat.itertuples(index=False)
        ],
        ignore_index=True,
    )


def curve_figures(curve: pd.DataFrame, sold: pd.DataFrame) -> dict:
    """`curve`: one row per curve (`curve`) and price, with product_id, base_price, predicted and
    true units. The curves that fall (the import's rule, none rising), where the model's and the
    true revenue optima lie on the grid (also on its prices inside the prices sold)."""
    verdict = import_curves.price_response(
        curve.rename(
            columns={"product_id": "product", "curve": "product_id", "predicted": "units_per_day"}
        )
    )
    curve = curve.merge(sold, on="product_id")
    curve["sold"] = (curve["price"] >= curve["low"]) & (curve["price"] <= curve["high"])

    def optima(c: pd.DataFrame) -> pd.DataFrame:
        c = c.assign(model=c["price"] * c["predicted"], truth=c["price"] * c["true"])
        best_model = c.loc[c.groupby("curve")["model"].idxmax(), ["curve", "price", "base_price"]]
        best_true = c.loc[c.groupby("curve")["truth"].idxmax(), ["curve", "price", "sold"]]
        both = best_model.merge(best_true, on="curve", suffixes=("_model", "_true"))
        both["off"] = (both["price_model"] - both["price_true"]).abs() / both["base_price"]
        return both

    whole, inside = optima(curve), optima(curve[curve["sold"]].copy())
    shown = verdict.curves
    return {
        "curves": verdict.n_curves,
        "falling": int((shown["falls"] & ~shown["rises"]).sum()),
        "rising": verdict.n_rising,
        "optimum_off_pct": 100 * float(whole["off"].median()),
        "optimum_off_inside_pct": 100 * float(inside["off"].median()),
        "true_optimum_over_base": float((whole["price_true"] / whole["base_price"]).median()),
        "true_optimum_sold": int(whole["sold"].sum()),
        "level_error_pct": 100 * float((curve["predicted"] / curve["true"] - 1).abs().median()),
    }


def hourly_curves(model, features, df, cat, points: int) -> pd.DataFrame:
    """Per product x bucket x grid price: the model's purchases per hour and the true ones."""
    # the funnel model's inputs: the shop's profile (all history); without the funnel, the
    # model's level is recent demand (its lags), so the truth is taken at the recent typical hour
    funnel = "views" in features
    prof = profiles(df, cat, None if funnel else RECENT_HOURS)
    grid = price_rows(cat, points).merge(prof, on="product_id")
    grid["price_ratio"] = grid["price"] / grid["base_price"]
    if funnel:
        inputs, key = grid, grid.index.to_series()
    else:  # every hour of the bucket, with demand as known at the end of the data
        hours = pd.DataFrame({"hour_of_day": range(24)})
        hours["time_of_day_bucket"] = [bucket_of_hour(h) for h in range(24)]
        inputs = grid.reset_index(names="key").merge(hours, on="time_of_day_bucket")
        inputs = inputs.merge(
            demand_at(df, pd.Timestamp(END)), left_on="product_id", right_index=True
        )
        inputs["day_of_week"] = pd.Timestamp(END).dayofweek
        key = inputs["key"]
    predicted = pd.Series(predict(model, inputs), index=inputs.index).groupby(key.to_numpy()).mean()
    grid["predicted"] = predicted.reindex(grid.index).to_numpy()
    grid["true"] = true_purchases(
        grid["cart_adds"].to_numpy(), grid["price"].to_numpy(), grid["base_price"].to_numpy()
    )
    grid["curve"] = grid["product_id"] + " " + grid["time_of_day_bucket"]
    return grid[["curve", "product_id", "base_price", "price", "predicted", "true"]]


def sold_range(df: pd.DataFrame) -> pd.DataFrame:
    return df.groupby("product_id")["current_price"].agg(low="min", high="max").reset_index()


# --- product-day -----------------------------------------------------------------------------


def daily(df: pd.DataFrame, cat: pd.DataFrame, points: int) -> dict:
    """The import's path at product-day: its backtest, and its price response vs the truth."""
    day = df.assign(day=df["timestamp"].dt.floor("D"), revenue=df["current_price"] * df[TARGET])
    panel = day.groupby(["product_id", "day"], as_index=False).agg(
        units=(TARGET, "sum"), revenue=("revenue", "sum")
    )
    panel["offered_price"] = panel["revenue"] / panel["units"]
    rows = mf.build(panel, cat[["product_id", "category", "base_price"]])
    out: dict = {"rows": len(rows), "price_ratio_sd": float(rows["price_ratio"].std())}
    seconds: list[float] = []

    eval_panel = twins.evaluation_panel(rows)
    folds = held_out.n_folds(eval_panel)
    out["folds"] = folds
    if folds:

        def forecaster(history, origin, horizon):
            start = pd.Timestamp(origin).tz_localize("UTC")
            model, s = fit(rows[rows[mf.TS_COLUMN] < start], mf.FEATURES, mf.TARGET)
            seconds.append(s)
            inputs = twins.fold_inputs(rows, start, horizon)
            day = inputs[mf.TS_COLUMN].dt.tz_convert(None).dt.normalize()
            return (
                inputs.assign(day=day, forecast=predict(model, inputs))
                .groupby(["product_id", "day"], as_index=False)["forecast"]
                .sum()
            )

        result = backtest.backtest(eval_panel, forecaster, folds=folds, horizon=twins.HORIZON_DAYS)
        for method in backtest.METHODS:
            out[method] = {
                m: result.overall(method, m) for m in ("rmsse", "poisson_deviance", "mae")
            }
        out["model"]["r2"] = evaluation.regression_metrics(
            result.scored["units"], result.scored[backtest.MODEL]
        )["r2"]
        out["scored_rows"] = result.rows

    model, s = fit(rows, mf.FEATURES, mf.TARGET)
    seconds.append(s)
    out["fit_s"] = statistics.median(seconds)
    grid = price_rows(cat, points).merge(cat[["product_id", "base_price"]], on="product_id")
    grid["price_ratio"] = grid["price"] / grid["base_price"]
    inputs = import_curves.profile_inputs(grid[["product_id", "price", "price_ratio"]], rows)
    curve = import_curves.curves(inputs, pd.Series(predict(model, inputs)))
    curve = curve.merge(grid[["product_id", "price", "base_price"]], on=["product_id", "price"])
    # the truth per day: each hour at its bucket's typical cart adds of the latest week
    prof = profiles(df, cat, RECENT_HOURS)
    per_bucket = pd.Series([bucket_of_hour(h) for h in range(24)]).value_counts().rename("n")
    truth = (
        price_rows(cat, points)
        .merge(prof, on="product_id")
        .merge(per_bucket, left_on="time_of_day_bucket", right_index=True)
    )
    truth["true"] = truth["n"] * true_purchases(
        truth["cart_adds"].to_numpy(), truth["price"].to_numpy(), truth["base_price"].to_numpy()
    )
    truth = truth.groupby(["product_id", "price"], as_index=False)["true"].sum()
    curve = curve.merge(truth, on=["product_id", "price"]).rename(
        columns={"units_per_day": "predicted"}
    )
    curve["curve"] = curve["product_id"]
    out["price"] = curve_figures(curve, sold_range(df))
    return out


# --- the run ---------------------------------------------------------------------------------


def run(days: int, points: int) -> dict:
    cat = catalog_frame()
    df = hourly(days)
    origin = pd.Timestamp(END) - HOLD_OUT
    train, test = df[df["timestamp"] < origin], df[df["timestamp"] >= origin].reset_index(drop=True)
    print(f"\n== {days} days of hourly history: {len(df):,} rows, {df['product_id'].nunique()} products; "
          f"twins trained on {len(train):,} rows, scored on the latest 24 h ({len(test):,} product-hours, "
          f"mean purchases {test[TARGET].mean():.1f}) ==")  # fmt: skip
    if days * 24 - 24 < 168:
        print(f"   (units_prev_168h covers only the {days * 24 - 24} hours before the held-out day, "
              "and less in training: the data are shorter than a week)")  # fmt: skip
    out: dict = {"rows": len(df), "held_out_rows": len(test), "methods": {}, "fit_s": {}}
    labels = {
        "funnel": "count model, funnel",
        "no_funnel_rolling": "count model, no funnel, lags rolling (1 h ahead)",
        "no_funnel_frozen": "count model, no funnel, lags frozen (day ahead)",
        "seasonal_naive": "seasonal naive (same hour yesterday)",
    }
    methods = out["methods"]
    finals = {}
    for name, features in FEATURE_SETS.items():
        model, s = fit(train, features)
        out["fit_s"][f"{name} twin"] = s
        if name == "funnel":
            methods["funnel"] = score(test, predict(model, test), train)
        else:
            methods["no_funnel_rolling"] = score(test, predict(model, test), train)
            frozen = test.drop(columns=list(LAGS)).merge(
                demand_at(df, origin), left_on="product_id", right_index=True
            )
            methods["no_funnel_frozen"] = score(frozen, predict(model, frozen), train)
        finals[name], s = fit(df, features)
        out["fit_s"][f"{name} final"] = s
    methods["seasonal_naive"] = score(test, seasonal_naive(df, test), train)
    mean_forecast, used = trailing_mean(df, test, origin)
    labels["trailing_mean"] = f"trailing mean (same hour, {used} day{'s' if used != 1 else ''})"
    if used == 1:
        labels["trailing_mean"] += ": = the seasonal naive"
    methods["trailing_mean"] = score(test, mean_forecast, train)
    out["trailing_mean_days"] = used

    print(f"   {'held-out latest 24 h':<56} {'R²':>6} {'MAE':>6} {'RMSSE':>6} {'Poisson':>8}")
    for key, m in methods.items():
        if m is None:
            print(f"   {labels[key]:<56} n/a (the data do not reach back far enough)")
        else:
            print(f"   {labels[key]:<56} {m['r2']:>6.3f} {m['mae']:>6.2f} {m['rmsse']:>6.3f} "
                  f"{m['poisson_deviance']:>8.3f}")  # fmt: skip
    if days in LIGHTWOOD:
        r2, mae, train_s = LIGHTWOOD[days]
        out["lightwood"] = {"r2": r2, "mae": mae, "train_s": train_s}
        label = "lightwood, the shop's four (bench_model.py, quoted)"
        print(f"   {label:<56} {r2:>6.3f} {mae:>6.2f}   (training {train_s:.1f} s)")
    else:
        print(
            "   lightwood: no figure at this length (bench_model.py measures 48 hours and 30 days)"
        )
    print("   training time: " + ", ".join(f"{k} {v:.1f} s" for k, v in out["fit_s"].items()))

    sold = sold_range(df)
    out["price"] = {}
    print(f"   price response, model trained on all {days * 24} hours, {points} prices over "
          "[min_price, max_price], each product's typical hour per bucket:")  # fmt: skip
    print(f"   {'':<12} {'curves falling':>15} {'best price off':>15} {'inside prices sold':>19} "
          f"{'true best sold':>15} {'level off':>10}")  # fmt: skip
    for name, features in FEATURE_SETS.items():
        f = curve_figures(hourly_curves(finals[name], features, df, cat, points), sold)
        out["price"][name] = f
        print(f"   {name:<12} {f['falling']:>8}/{f['curves']:<6} {f['optimum_off_pct']:>13.1f} % "
              f"{f['optimum_off_inside_pct']:>17.1f} % {f['true_optimum_sold']:>8}/{f['curves']:<6} "
              f"{f['level_error_pct']:>8.1f} %")  # fmt: skip
    print(f"   (the true revenue optimum lies at a median {out['price']['funnel']['true_optimum_over_base']:.3f}"
          " x base; best price off = median |model's best grid price - true best grid price| / base;"
          " inside prices sold: both read on the grid prices inside the prices the product sold at;"
          " true best sold: curves whose true best grid price is inside those; level off = median"
          " |predicted / true - 1| over the grid)")  # fmt: skip

    d = daily(df, cat, points)
    out["daily"] = d
    print(f"   product-day (the import's inputs, {d['rows']} product-days; sd of the daily price ratio "
          f"{d['price_ratio_sd']:.3f} vs {df['price_ratio'].std():.3f} hourly):")  # fmt: skip
    if d["folds"]:
        m, sn, tm = (d[k] for k in backtest.METHODS)
        print(f"     backtest, {d['folds']} weekly folds, {d['scored_rows']} product-days: model R² {m['r2']:.3f}, "
              f"RMSSE {m['rmsse']:.3f} vs seasonal naive {sn['rmsse']:.3f}, 28-day mean {tm['rmsse']:.3f}; "
              f"Poisson {m['poisson_deviance']:.2f} vs {sn['poisson_deviance']:.2f}, {tm['poisson_deviance']:.2f}")  # fmt: skip
    else:
        print(
            "     backtest: not evaluated (the import's backtest needs 14 days: a week of history and a week held out)"
        )
    p = d["price"]
    print(f"     price response: {p['falling']}/{p['curves']} curves falling, best price off {p['optimum_off_pct']:.1f} % "
          f"of base ({p['optimum_off_inside_pct']:.1f} % inside prices sold; true best sold {p['true_optimum_sold']}/"
          f"{p['curves']}), level off {p['level_error_pct']:.1f} %; "
          f"training {d['fit_s']:.2f} s per fit")  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--days", type=int, nargs="+", default=[2, 7, 30], help="days of hourly history"
    )
    ap.add_argument("--grid", type=int, default=21, help="prices per curve")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    if min(args.days) < 2:
        ap.error("--days: at least 2 (a day to train on and the latest 24 hours to score)")
    global MODELS
    MODELS = CountModels()
    where = "in this process" if MODELS.proc is None else "in MindsDB's Python (lightgbm is there)"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"count model: {Path(count_model.__file__).name}, trained {where}; {os.cpu_count()} cores, "
          f"load average {load} (times are wall clock: they move with the load)")  # fmt: skip
    t = time.perf_counter()
    try:
        figures = {"days": {str(d): run(d, args.grid) for d in args.days}}
    finally:
        MODELS.close()
    fits = [v for run in figures["days"].values() for v in run["fit_s"].values()]
    print(f"\nhourly fits: median {statistics.median(fits):.1f} s (range {min(fits):.1f}-{max(fits):.1f} s) "
          f"over {len(fits)}; all in {time.perf_counter() - t:.0f} s")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
