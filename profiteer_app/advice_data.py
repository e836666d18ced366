"""The app's read of a source's model results, in its results schema (`Source.results`: an
import's `import_<name>`, the simulated shop's `shop_model`): the per-product advice
(`price_advice`, the contract every source's model run writes: `source_tables.PRICE_ADVICE`), the
evaluation of the model that made it (`model_evaluation`), each product's daily curve and what was
observed at each price.

The tables may be absent until the source's model has trained: that is `ModelNotTrained`, a
notice, while the dashboard and the catalog keep working.

Pure (psycopg2 and pandas, no Streamlit): the pages, the CSV export and the tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from psycopg2 import sql as pgsql

from profiteer_app.warehouse import MetricsMissing, Query, Warehouse, _numeric
from profiteer_pipeline.model.daily_features import MODEL_FEATURES
from profiteer_pipeline.model.figures import DAILY, HOURLY, Yardstick
from profiteer_pipeline.pricing.advice_table import NO_PRICE, no_advice_reason
from profiteer_pipeline.pricing.curves import smoothed
from profiteer_pipeline.sources.base import Source
from profiteer_pipeline.warehouse.recommendation_tables import PRICE_OBSERVATIONS
from profiteer_pipeline.warehouse.source_tables import (
    MODEL_EVALUATION,
    PRICE_ADVICE,
    PRICE_CURVES,
)

_ONE = pgsql.SQL("product_id = %(product_id)s")
ADVICE_COLUMNS = PRICE_ADVICE.column_names
CURVE_COLUMNS = [c for c in PRICE_CURVES.column_names if c != "product_id"]


class ModelNotTrained(MetricsMissing):
    """The source's model tables are not there yet, or not filled: its model has not trained."""


def advice_query(schema: str) -> Query:
    """Every product's row: those with a price first, the biggest gains first."""
    query = pgsql.SQL(
        "SELECT {} FROM {} ORDER BY status = 'advice' DESC, status = 'no_change' DESC,"
        " revenue_per_day_at_best - revenue_per_day_at_current DESC NULLS LAST, product_id"
    ).format(
        pgsql.SQL(", ").join(map(pgsql.Identifier, ADVICE_COLUMNS)),
        PRICE_ADVICE.in_schema(schema).identifier,
    )
    return query, None


def curve_query(schema: str, product_id: str) -> Query:
    """One product's stored daily curve (`price_curves`), by price."""
    table = PRICE_CURVES.in_schema(schema)
    return table.select(CURVE_COLUMNS, where=_ONE, order=["price"]), {"product_id": product_id}


def evaluation_query(schema: str) -> Query:
    """The latest training's evaluation (`model_evaluation`)."""
    table = MODEL_EVALUATION.in_schema(schema)
    return table.select(order=["trained_at DESC"], limit=1), None


def observed_query(source: Source, product_id: str) -> Query:
    """What the product sold per day at each price it was offered at (price, units_per_day and
    how often it was seen there), as the source's model saw it: the shop's hours by price bin
    over every time of day (`price_observations`, weighted by their hours; its price is drawn
    afresh every hour), times 24; an import's modelled days (`model_features`)."""
    if source.capabilities.hourly_forecast:
        query = pgsql.SQL(
            "SELECT sum(price * hours) / sum(hours) AS price, sum(hours) AS hours,"
            " sum(purchases * hours) / sum(hours) * 24 AS units_per_day FROM {}"
            " WHERE product_id = %(product_id)s GROUP BY price_bin ORDER BY 1"
        ).format(PRICE_OBSERVATIONS.identifier)
    else:
        query = pgsql.SQL(
            "SELECT price, count(*) AS days, avg(units)::float8 AS units_per_day FROM {}"
            " WHERE product_id = %(product_id)s GROUP BY price ORDER BY price"
        ).format(MODEL_FEATURES.in_schema(source.results).identifier)
    return query, {"product_id": product_id}


def with_line(curve: pd.DataFrame, product_id: str) -> pd.DataFrame:
    """The curve with `fit_units` and `fit_revenue` per day beside the model's own
    `units_per_day`: the straight demand line `price_advice` reads, by the pipeline's own rule
    (`curves.smoothed`). The model's points step where its trees split, so the slider reads the
    line, and so agrees with the advice; the points stay on the chart as the evidence."""
    return smoothed(curve.assign(product_id=product_id)) if not curve.empty else curve


def units_and_revenue_at(curve: pd.DataFrame, price: float) -> tuple[float, float]:
    """Units/day at `price` on the demand line (`fit_units`, straight: extended beyond the
    prices it spans, as the advice reads it, never below zero; the model's own `units_per_day`,
    interpolated and flat beyond them, for a curve without one), and the revenue they make
    there (units × price, so the two cards always agree)."""
    p = curve["price"].to_numpy(dtype=float)
    line = "fit_units" in curve and len(curve) > 1
    u = curve["fit_units" if line else "units_per_day"].to_numpy(dtype=float)
    units = float(np.interp(price, p, u))
    if line and price < p[0]:  # the line's own slope at its ends
        units = u[0] + (u[1] - u[0]) / (p[1] - p[0]) * (price - p[0])
    elif line and price > p[-1]:
        units = u[-1] + (u[-1] - u[-2]) / (p[-1] - p[-2]) * (price - p[-1])
    units = max(float(units), 0.0)
    return units, units * price


@dataclass
class Advice:
    """A source's stored advice for every product, and how well the model did held out
    (`model_evaluation`; None when none is stored)."""

    table: pd.DataFrame  # price_advice: products with advice first, the biggest gains first
    evaluation: pd.Series | None = None

    @property
    def advised(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "advice"]

    @property
    def no_change(self) -> pd.DataFrame:
        """Products with a curve but no price advised, each with the reason in `note`."""
        return self.table[self.table["status"] == "no_change"]

    @property
    def too_little(self) -> pd.DataFrame:
        return self.table[self.table["status"] == "too_little_data"]

    @property
    def excluded(self) -> pd.DataFrame:
        """Postage, fees and adjustments: never priced (`merchandise.py`)."""
        return self.table[self.table["status"] == "excluded"]


# --- the rule, on the stored figures -------------------------------------------------------


def yardstick(source: Source) -> Yardstick:
    """How the source's model is held out and what it must beat: the shop's a day at
    product-hour, an import's weeks at product-day."""
    return HOURLY if source.capabilities.hourly_forecast else DAILY


def model_loses(evaluation: pd.Series | None, source: Source) -> str | None:
    """Why the stored model may advise no price (out of sample it does not beat the trailing
    mean, or it was not evaluated), or None when it beats it: the pipeline's own rule on the
    stored figures."""
    figures = None if evaluation is None else evaluation.to_dict()
    return no_advice_reason(figures, yardstick(source))


def backtest_phrase(ev: pd.Series, source: Source) -> str:
    """'Out of sample (3 folds), RMSSE 0.81 ... against 0.95 ... for the product's 28-day mean:
    beats it', the model's verdict in a line (the sidebar's)."""
    ys = yardstick(source)
    if not held_out(ev):
        return f"Not evaluated: the data are too short for {ys.too_short}"
    verdict = "beats it" if model_loses(ev, source) is None else "does NOT beat it"
    folds = int(ev["folds"])
    return (
        f"Out of sample ({folds} {'fold' if folds == 1 else 'folds'}), RMSSE "
        f"{ev['model_rmsse']:.2f} and Poisson deviance {ev['model_poisson_deviance']:.2f} "
        f"against {ev['trailing_mean_rmsse']:.2f} and {ev['trailing_mean_poisson_deviance']:.2f} "
        f"for the {ys.baseline}: {verdict}"
    )


def held_out(evaluation: pd.Series | None) -> bool:
    """Whether the model was backtested (too short a history holds nothing out)."""
    return (
        evaluation is not None
        and not pd.isna(evaluation["model_rmsse"])
        and int(evaluation["folds"]) > 0
    )


def withhold(table: pd.DataFrame, evaluation: pd.Series | None, source: Source) -> pd.DataFrame:
    """price_advice as the app shows it: where the model does not beat the baseline (or was not
    evaluated), no product has a price, whatever the table says (an older training's rows):
    `advice` becomes `no_change` with the reason. Without a stored evaluation (an older run) the
    table stands as written."""
    reason = None if evaluation is None else model_loses(evaluation, source)
    if reason is None:
        return table
    out = table.copy()
    advised = out["status"] == "advice"
    out.loc[advised, "status"] = "no_change"
    out.loc[advised, "note"] = reason
    out.loc[advised, list(NO_PRICE)] = float("nan")
    return out


# --- the loaders ---------------------------------------------------------------------------


def trained_by(source: Source) -> str:
    """The Dagster asset that writes the source's results, as a notice names it."""
    return "`import_forecast`" if source.is_import else "`price_recommendations`"


def _whose(source: Source) -> str:
    return f"the import {source.name!r}" if source.is_import else "the simulated shop"


def _fetch(wh: Warehouse, source: Source, queries: dict[str, Query]) -> dict[str, pd.DataFrame]:
    try:
        frames = wh.fetch(queries)
    except MetricsMissing as exc:
        raise ModelNotTrained(
            f"the model for {_whose(source)} has not been trained yet ({exc}); it trains "
            f"automatically (Dagster asset {trained_by(source)})"
            + (
                ". When no product sold on enough days at enough different prices, that run "
                "fails instead and its page in Dagster says so"
                if source.is_import
                else ""
            )
        ) from None
    return {k: _numeric(v) for k, v in frames.items()}


def load_advice(wh: Warehouse, source: Source) -> Advice:
    """Every product's advice and the latest evaluation, the advice withheld where the stored
    model does not beat its baseline (`withhold`)."""
    schema = source.results
    frames = _fetch(
        wh, source, {"advice": advice_query(schema), "evaluation": evaluation_query(schema)}
    )
    evaluation = frames["evaluation"]
    if evaluation.empty and frames["advice"].empty:  # tables made, not filled: still training
        raise ModelNotTrained(
            f"the model for {_whose(source)} is training; its advice appears when it is done "
            f"(Dagster asset {trained_by(source)})"
        )
    ev = None if evaluation.empty else evaluation.iloc[0]
    return Advice(withhold(frames["advice"], ev, source), ev)


def load_curve(wh: Warehouse, source: Source, product_id: str) -> pd.DataFrame:
    """The product's stored daily curve with its demand line (`with_line`)."""
    found = _fetch(wh, source, {"curve": curve_query(source.results, product_id)})["curve"]
    return with_line(found, product_id)


def load_observed(wh: Warehouse, source: Source, product_id: str) -> pd.DataFrame:
    """price, units_per_day, revenue_per_day and how often it was seen (`observed_query`): the
    points the curve should pass near."""
    seen = _fetch(wh, source, {"seen": observed_query(source, product_id)})["seen"]
    if seen.empty:
        return seen
    seen = seen.astype({"price": float, "units_per_day": float})
    return seen.assign(revenue_per_day=seen["price"] * seen["units_per_day"])
