"""The app's reads of what only a file source has, as the read-only role: the list of imports
(`imports_raw.imports`), an import's record and quality summary, its whole period day by day with
its returns (`daily`, pre-aggregated by the import), and its top products with their returns.

Everything every source has (metrics, catalog, advice, curves) is read by source, elsewhere
(`warehouse`, `catalog_data`, `advice_data`). Pure (psycopg2 and pandas, no Streamlit). Every
name in a query is an Identifier; the import's name is checked by the pipeline's own rule first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from psycopg2 import sql as pgsql

from profiteer_app.warehouse import AccessDenied, MetricsMissing, Query, Warehouse, _numeric
from profiteer_pipeline.sources.files.names import schema_name

IMPORTS = pgsql.Identifier("imports_raw", "imports")
TOP_PRODUCTS = 10
TOP_COLUMNS = ["product_id", "product_name", "category", "units", "revenue"]


class ImportMissing(MetricsMissing):
    """The chosen import is not in the warehouse (removed, or a link to another warehouse)."""


def _table(name: str, table: str) -> pgsql.Composed:
    return pgsql.Identifier(schema_name(name), table)


def _cols(columns: list[str], alias: str | None = None) -> pgsql.Composed:
    ids = (pgsql.Identifier(alias, c) if alias else pgsql.Identifier(c) for c in columns)
    return pgsql.SQL(", ").join(ids)


# --- the queries ---------------------------------------------------------------------------


def list_query() -> Query:
    query = pgsql.SQL(
        "SELECT name, file_name, layout, imported_at, summary->>'currency' AS currency,"
        " summary->'columns' AS columns FROM {}"
        " ORDER BY imported_at DESC, name"
    ).format(IMPORTS)
    return query, None


def record_query(name: str) -> Query:
    query = pgsql.SQL(
        "SELECT name, file_name, format, layout, connector, imported_at, summary FROM {}"
        " WHERE name = %(name)s"
    ).format(IMPORTS)
    return query, {"name": name}


def daily_query(name: str) -> Query:
    """The whole import day by day (all products): a few hundred rows at most."""
    query = pgsql.SQL(
        "SELECT day, sum(units) AS units, sum(revenue) AS revenue,"
        " sum(returned_units) AS returned_units FROM {} GROUP BY day ORDER BY day"
    ).format(_table(name, "daily"))
    return query, None


def top_query(name: str) -> Query:
    """The products with the most revenue, each with its returned units (an index range of
    `daily` per top product, not a pass over every product-day)."""
    query = pgsql.SQL(
        "SELECT {p_cols}, r.returned_units FROM"
        " (SELECT {cols} FROM {products} ORDER BY revenue DESC, product_id LIMIT %(top)s) p"
        " LEFT JOIN LATERAL (SELECT sum(d.returned_units) AS returned_units FROM {daily} d"
        " WHERE d.product_id = p.product_id) r ON true"
        " ORDER BY p.revenue DESC, p.product_id"
    ).format(
        p_cols=_cols(TOP_COLUMNS, "p"),
        cols=_cols(TOP_COLUMNS),
        products=_table(name, "products"),
        daily=_table(name, "daily"),
    )
    return query, {"top": TOP_PRODUCTS}


# --- the loaders ---------------------------------------------------------------------------


def load_imports(wh: Warehouse) -> pd.DataFrame:
    """Every import, newest first; empty when there are none yet or the app may not see them
    (no table, or no grant): the app then offers only the simulated shop."""
    try:
        return wh.fetch({"imports": list_query()})["imports"]
    except (MetricsMissing, AccessDenied):
        return no_imports()


def no_imports() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["name", "file_name", "layout", "imported_at", "currency", "columns"]
    )


@dataclass
class Overview:
    """What the dashboard shows: the import's record and summary, days, top products."""

    record: pd.Series
    daily: pd.DataFrame  # day, units, revenue, returned_units (all products)
    top: pd.DataFrame  # the best-selling products by revenue

    @property
    def summary(self) -> dict:
        return dict(self.record["summary"] or {})


def load_overview(wh: Warehouse, name: str) -> Overview:
    queries = {"record": record_query(name), "daily": daily_query(name), "top": top_query(name)}
    try:
        frames = {k: _numeric(v) for k, v in wh.fetch(queries).items()}
    except MetricsMissing as exc:
        raise ImportMissing(f"the import {name!r} is not in the warehouse ({exc})") from None
    if frames["record"].empty:
        raise ImportMissing(f"the import {name!r} is not in the warehouse")
    return Overview(frames["record"].iloc[0], frames["daily"], frames["top"])
