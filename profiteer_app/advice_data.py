"""The app's read of a source's per-product advice: `price_advice`, the contract every source's
model run writes in its own schema (`source_tables.PRICE_ADVICE`): an import's `import_<name>`,
the simulated shop's `shop_model` (`Source.results`).

Pure (psycopg2 and pandas, no Streamlit): the pages, the CSV export and the tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from psycopg2 import sql as pgsql

from profiteer_app.warehouse import Query
from profiteer_pipeline.pricing.curves import smoothed
from profiteer_pipeline.warehouse.source_tables import PRICE_ADVICE, PRICE_CURVES

_ONE = pgsql.SQL("product_id = %(product_id)s")
ADVICE_COLUMNS = PRICE_ADVICE.column_names
CURVE_COLUMNS = [c for c in PRICE_CURVES.column_names if c != "product_id"]


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
    """A source's stored advice for every product, and (for an import) how well the model did
    held out (`model_evaluation`)."""

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
