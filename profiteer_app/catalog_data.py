"""The catalog's read for any source: every product with its prices, its sales from the metric
tables (`product_stats`, in the source's schema) and its advice (`price_advice`, the contract),
as one table.

Pure (psycopg2 and pandas, no Streamlit).
"""

from __future__ import annotations

import pandas as pd

from profiteer_app.advice_data import advice_query
from profiteer_app.warehouse import MetricsMissing, Query, Warehouse, _numeric, with_stats_query
from profiteer_pipeline.sources.base import Source

#: from the source's products: its catalog's bounds, or for an import the prices paid
PRODUCT_COLUMNS = ["product_id", "product_name", "category", "base_price", "min_price", "max_price"]
#: from the metric tables (`product_stats`), as the table names them
STATS = {"total_purchases": "units", "total_revenue": "revenue",
         "latest_day_revenue": "latest_day_revenue", "latest_hour": "latest_hour"}  # fmt: skip
#: from the advice: what it says of the product today
ADVICE = ["status", "current_price", "best_price", "note"]
COLUMNS = [*PRODUCT_COLUMNS, *STATS.values(), *ADVICE, "change_pct"]


def products_query(source: Source) -> Query:
    """Every product of the source with its sales (NULL where it never sold), by revenue."""
    return with_stats_query(
        source.products, PRODUCT_COLUMNS, STATS, source.schema,
        order="s.total_revenue DESC NULLS LAST, p.product_id",
    )  # fmt: skip


def load_catalog(wh: Warehouse, source: Source) -> pd.DataFrame:
    """`COLUMNS`, one row per product; the advice's columns empty until the model has advised."""
    products = _numeric(wh.fetch({"products": products_query(source)})["products"])
    try:
        advice = _numeric(wh.fetch({"advice": advice_query(source.results)})["advice"])
    except MetricsMissing:  # not trained yet: the products without advice
        advice = pd.DataFrame(columns=["product_id", *ADVICE])
    out = products.merge(advice[["product_id", *ADVICE]], on="product_id", how="left")
    out["change_pct"] = (
        out["best_price"].astype(float) / out["current_price"].astype(float) - 1
    ) * 100
    return out[COLUMNS]


def search(products: pd.DataFrame, text: str, categories: list[str] | None) -> pd.DataFrame:
    """Products whose name or SKU contains `text` (any case), in `categories` (None: all)."""
    shown = products
    if categories is not None:
        shown = shown[shown["category"].fillna("").isin(categories)]
    text = text.strip().lower()
    if text:
        hay = shown["product_name"].fillna("").str.lower() + " " + shown["product_id"].str.lower()
        shown = shown[hay.str.contains(text, regex=False)]
    return shown
