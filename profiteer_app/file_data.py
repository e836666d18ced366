"""The app's reads of an imported order export (schema `import_<name>`), as the read-only role.

Pure (psycopg2 and pandas, no Streamlit). An import holds what its file had: products, their
daily sales (`daily`, pre-aggregated by the import), returns and the import's quality summary.
The model tables (`price_curves`, `price_advice`, `model_evaluation`) are written by the Dagster
asset `import_forecast` after each import and may be absent until it has trained: that is
`ModelNotTrained`, a notice, while the dashboard and the catalog keep working. Every name in a
query is an Identifier; the import's name is checked by the pipeline's own rule first.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from psycopg2 import sql as pgsql

from profiteer_app.advice_data import Advice, advice_query, curve_query, with_line
from profiteer_app.warehouse import AccessDenied, MetricsMissing, Query, Warehouse, _numeric
from profiteer_pipeline.pricing.advice_table import NO_PRICE, no_advice_reason
from profiteer_pipeline.sources.files.names import schema_name
from profiteer_pipeline.warehouse import source_tables

IMPORTS = pgsql.Identifier("imports_raw", "imports")
TOP_PRODUCTS = 10
TOP_COLUMNS = ["product_id", "product_name", "category", "units", "revenue"]
PRODUCT_COLUMNS = ["product_id", "product_name", "category", "base_price", "min_price",
                   "max_price", "units", "revenue", "lines", "first_hour", "last_hour"]  # fmt: skip
EVALUATION_COLUMNS = list(source_tables.EVALUATION_COLUMNS)
MODEL_TABLES = ("price_curves", "price_advice", "model_evaluation")


class ImportMissing(MetricsMissing):
    """The chosen import is not in the warehouse (removed, or a link to another warehouse)."""


class ModelNotTrained(MetricsMissing):
    """The import's model tables are not there yet: `import_forecast` has not trained it."""


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


def products_query(name: str) -> Query:
    query = pgsql.SQL("SELECT {} FROM {} ORDER BY revenue DESC, product_id").format(
        _cols(PRODUCT_COLUMNS), _table(name, "products")
    )
    return query, None


def advice_queries(name: str) -> dict[str, Query]:
    evaluation = pgsql.SQL("SELECT {} FROM {} ORDER BY trained_at DESC LIMIT 1").format(
        _cols(EVALUATION_COLUMNS), _table(name, "model_evaluation")
    )
    return {"advice": advice_query(schema_name(name)), "evaluation": (evaluation, None)}


def observed_query(name: str, product_id: str) -> Query:
    """The product's modelled days by the price offered on them (`model_features`): what the
    model was fitted to, as mean units per day and how many days."""
    query = pgsql.SQL(
        "SELECT price, count(*) AS days, avg(units)::float8 AS units_per_day FROM {}"
        " WHERE product_id = %(product_id)s GROUP BY price ORDER BY price"
    ).format(_table(name, "model_features"))
    return query, {"product_id": product_id}


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


def _fetch(wh: Warehouse, name: str, queries: dict[str, Query], model: bool = False) -> dict:
    try:
        frames = wh.fetch(queries)
    except MetricsMissing as exc:
        if model:
            raise ModelNotTrained(
                f"the model for the import {name!r} has not been trained yet; it trains "
                "automatically after the import (Dagster asset `import_forecast`). When no "
                "product sold in enough hours at enough different prices, that run fails "
                "instead and its page in Dagster says so"
            ) from None
        raise ImportMissing(f"the import {name!r} is not in the warehouse ({exc})") from None
    return {k: _numeric(v) for k, v in frames.items()}


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
    frames = _fetch(wh, name, queries)
    if frames["record"].empty:
        raise ImportMissing(f"the import {name!r} is not in the warehouse")
    return Overview(frames["record"].iloc[0], frames["daily"], frames["top"])


def load_products(wh: Warehouse, name: str) -> pd.DataFrame:
    return _fetch(wh, name, {"products": products_query(name)})["products"]


def model_loses(evaluation: pd.Series | None) -> str | None:
    """Why the stored model may advise no price (out of sample it does not beat the product's
    28-day mean, or it was not evaluated), or None when it beats it: the pipeline's own rule on
    the stored figures."""
    return no_advice_reason(None if evaluation is None else evaluation.to_dict())


def withhold(table: pd.DataFrame, evaluation: pd.Series | None) -> pd.DataFrame:
    """price_advice as the app shows it: where the model does not beat the baseline, no product
    has a price, whatever the table says (an older training's rows): `advice` becomes
    `no_change` with the reason."""
    reason = model_loses(evaluation)
    if reason is None:
        return table
    out = table.copy()
    advised = out["status"] == "advice"
    out.loc[advised, "status"] = "no_change"
    out.loc[advised, "note"] = reason
    out.loc[advised, list(NO_PRICE)] = float("nan")
    return out


def load_advice(wh: Warehouse, name: str) -> Advice:
    frames = _fetch(wh, name, advice_queries(name), model=True)
    evaluation = frames["evaluation"]
    if evaluation.empty and frames["advice"].empty:  # tables made, not filled: still training
        raise ModelNotTrained(
            f"the model for the import {name!r} is training; its advice appears when it is done "
            "(Dagster asset `import_forecast`)"
        )
    ev = None if evaluation.empty else evaluation.iloc[0]
    return Advice(withhold(frames["advice"], ev), ev)


def load_curve(wh: Warehouse, name: str, product_id: str) -> pd.DataFrame:
    """The product's stored curve with its demand line (`advice_data.with_line`)."""
    query = curve_query(schema_name(name), product_id)
    return with_line(_fetch(wh, name, {"curve": query}, model=True)["curve"], product_id)


def load_observed(wh: Warehouse, name: str, product_id: str) -> pd.DataFrame:
    """price, days, units_per_day, revenue_per_day: the product's observed days at each offered
    price, the points the curve should pass near."""
    seen = _fetch(wh, name, {"seen": observed_query(name, product_id)}, model=True)["seen"]
    if seen.empty:
        return seen
    seen = seen.astype({"price": float, "units_per_day": float})
    return seen.assign(revenue_per_day=seen["price"] * seen["units_per_day"])
