"""The app's read of a source's per-product advice: `price_advice`, the contract every source's
model run writes in its own schema (`source_tables.PRICE_ADVICE`): an import's `import_<name>`,
the simulated shop's `shop_model` (`Source.results`).

Pure (psycopg2 and pandas, no Streamlit): the pages, the CSV export and the tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from psycopg2 import sql as pgsql

from profiteer_app.warehouse import Query
from profiteer_pipeline.warehouse.source_tables import PRICE_ADVICE

ADVICE_COLUMNS = PRICE_ADVICE.column_names


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
