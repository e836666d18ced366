"""The app's reads of the stored price recommendations: curves, advice, evidence, forecast.

Pure (psycopg2 and pandas, no Streamlit). Every SELECT comes from the tables' declarations
(`profiteer_pipeline.warehouse.recommendation_tables.select_sql`); all of them live in `analytics`, which
the app's reader role may read. The `price_recommendations` asset rebuilds them after each
training, so a page that shows a curve never waits on MindsDB.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from psycopg2 import sql as pgsql

from profiteer_app.warehouse import MetricsMissing, Query, Warehouse, _numeric
from profiteer_pipeline.warehouse import recommendation_tables as pt

_ONE = pgsql.SQL("product_id = %(product_id)s AND time_of_day_bucket = %(bucket)s")


class RecommendationsMissing(MetricsMissing):
    """The recommendation tables are not there yet: the model has not been trained, or the
    `price_recommendations` asset has not run since."""


def run_query() -> Query:
    return pt.select_sql("price_recommendation_runs", order=["computed_at DESC"], limit=1), None


def recommendations_query() -> Query:
    return pt.select_sql("price_recommendations", order=["gain_per_day DESC"]), None


def curve_queries(product_id: str, bucket: str) -> dict[str, Query]:
    params = {"product_id": product_id, "bucket": bucket}
    return {
        "curve": (pt.select_sql("price_curves", where=_ONE, order=["price"]), params),
        "advice": (pt.select_sql("price_recommendations", where=_ONE), params),
        "observed": (pt.select_sql("price_observations", where=_ONE, order=["price"]), params),
        "run": run_query(),
    }


def forecast_query() -> Query:
    return pt.select_sql("sales_forecast_hourly", order=["hour"]), None


def _fetch(wh: Warehouse, queries: dict[str, Query]) -> dict[str, pd.DataFrame]:
    try:
        frames = wh.fetch(queries)
    except RecommendationsMissing:
        raise
    except MetricsMissing as exc:
        if "price_" in str(exc) or "sales_forecast_hourly" in str(exc):
            raise RecommendationsMissing(
                f"{str(exc).split(':')[0]}: no price recommendations yet. They are computed after "
                "each training of the model (asset `price_recommendations`)."
            ) from None
        raise
    return {k: _numeric(v) for k, v in frames.items()}


@dataclass
class Recommendations:
    table: pd.DataFrame  # price_recommendations, best gains first
    run: pd.Series | None  # the latest price_recommendation_runs row


@dataclass
class StoredCurve:
    curve: pd.DataFrame  # price_curves of one product × bucket, by price
    advice: pd.Series | None
    observed: pd.DataFrame
    run: pd.Series | None

    @property
    def empty(self) -> bool:
        return self.curve.empty


def _first(df: pd.DataFrame) -> pd.Series | None:
    return None if df.empty else df.iloc[0]


def load_recommendations(wh: Warehouse) -> Recommendations:
    frames = _fetch(wh, {"recs": recommendations_query(), "run": run_query()})
    return Recommendations(frames["recs"], _first(frames["run"]))


def load_curve(wh: Warehouse, product_id: str, bucket: str) -> StoredCurve:
    f = _fetch(wh, curve_queries(product_id, bucket))
    return StoredCurve(f["curve"], _first(f["advice"]), f["observed"], _first(f["run"]))


def load_forecast(wh: Warehouse) -> pd.DataFrame:
    return _fetch(wh, {"forecast": forecast_query()})["forecast"]


def r2_phrase(run: pd.Series | None) -> str | None:
    """ "R² 0.97 on the latest 24 h, held out", or None when the training had no held-out day."""
    if run is None or pd.isna(run.get("held_out_r2")):
        return None
    return f"R² {float(run['held_out_r2']):.2f} on the latest 24 h, held out"


R2_EXPLAINED = (
    "A twin of the model, trained without the latest 24 hours, predicted those hours' purchases; "
    "R² is the share of their hour-to-hour variation it got right (1 = all)."
)
