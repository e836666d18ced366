"""The tables the `price_recommendations` asset rebuilds after each training (schema `analytics`):
the shop's hourly curves and advice per product × time-of-day bucket; and in the shop's own
schema (`shop_model`), the per-product results every source writes (`source_tables`): the
advice's contract `price_advice` and the daily curves it reads (`price_curves`).

Pure (psycopg2 only). One `MetricTable` declaration per table, role `model`: not part of the
hourly refresh (`metrics.TABLES`), rebuilt whole, in one transaction, each time the model is
trained. The DDL, the Dagster column schema and the app's SELECTs (`select_sql`) follow from the
declarations. Money is per hour unless a column says per day; the shop's currency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from psycopg2 import sql
from psycopg2.extensions import connection as PgConnection

from profiteer_pipeline.sources.base import SHOP
from profiteer_pipeline.warehouse import source_tables
from profiteer_pipeline.warehouse.io import copy_dataframe, lock_key
from profiteer_pipeline.warehouse.metrics.declaration import SCHEMA, MetricTable, ensure
from profiteer_pipeline.warehouse.metrics.declaration import Column as C

if TYPE_CHECKING:
    import pandas as pd

#: Observed prices are grouped into bins of this fraction of the base price.
OBSERVATION_BIN = 0.02

_AT = C("computed_at", "timestamptz NOT NULL", None, "when the asset computed it")

# fmt: off
PRICE_CURVES = MetricTable(
    "price_curves",
    role="model",
    description="Per product × time-of-day bucket: the model's predicted purchases per hour over "
    "a price grid (41+ prices over [min_price, max_price], plus the base and current prices), the "
    "demand line fitted to it where it falls (the one smoothing rule), revenue, profit (with a "
    "unit cost) and the held-out error band.",
    columns=(
        C("product_id", "text NOT NULL"),
        C("time_of_day_bucket", "text NOT NULL"),
        C("price", "double precision NOT NULL"),
        C("model_purchases", "double precision NOT NULL", None, "the model's prediction"),
        C("purchases", "double precision NOT NULL", None,
          "model_purchases on its demand line where it falls, else as predicted"),
        C("purchases_low", "double precision", None, "purchases − the held-out error"),
        C("purchases_high", "double precision", None, "purchases + the held-out error"),
        C("revenue", "double precision NOT NULL", None, "price × purchases"),
        C("profit", "double precision", None, "(price − unit_cost) × purchases; NULL: no cost"),
        C("is_base", "boolean NOT NULL"),
        C("is_current", "boolean NOT NULL"),
        _AT,
    ),
    key=("product_id", "time_of_day_bucket", "price"),
    upstream=("sales_forecast",),
    preview_order=("product_id", "time_of_day_bucket", "price"),
)

PRICE_RECOMMENDATIONS = MetricTable(
    "price_recommendations",
    role="model",
    description="Per product × time-of-day bucket: the best price on the smoothed curve inside "
    "the product's bounds, held by the shop's guardrails, expected revenue per hour there, the "
    "gain over the current price per hour and per day, the uncertainty band from the model's "
    "held-out error and a confidence mark (`no change` when the gain is within the band or "
    "below the guardrails' minimum, the curve does not fall with the price, or the product's "
    "own elasticity does not back the move; `note` says which).",
    columns=(
        C("product_id", "text NOT NULL"),
        C("time_of_day_bucket", "text NOT NULL"),
        C("product_name", "text NOT NULL"),
        C("category", "text NOT NULL"),
        C("hours_per_day", "integer NOT NULL", None, "UTC hours of the bucket in a day"),
        C("min_price", "double precision NOT NULL"),
        C("max_price", "double precision NOT NULL"),
        C("base_price", "double precision NOT NULL"),
        C("current_price", "double precision NOT NULL", None, "the latest hour's price"),
        C("unit_cost", "double precision", None, "NULL: unknown, revenue is maximized"),
        C("objective", "text NOT NULL", None, "'revenue' or 'profit'"),
        C("best_price", "double precision NOT NULL", None, "the best price within the bounds and the guardrails"),
        C("recommended_price", "double precision NOT NULL",
          None, "best_price, or current_price when the gain is within the band"),
        C("best_purchases", "double precision NOT NULL"),
        C("current_purchases", "double precision NOT NULL"),
        C("best_revenue", "double precision NOT NULL", None, "per hour at best_price"),
        C("current_revenue", "double precision NOT NULL", None, "per hour at current_price"),
        C("base_revenue", "double precision NOT NULL", None, "per hour at base_price"),
        C("gain_per_hour", "double precision NOT NULL", None, "objective at best − at current"),
        C("gain_pct", "double precision", None, "% of the objective at the current price"),
        C("band_per_hour", "double precision", None, "± uncertainty of the gain; NULL: unknown"),
        C("gain_per_day", "double precision NOT NULL", None, "gain_per_hour × hours_per_day"),
        C("band_per_day", "double precision", None, "band_per_hour × hours_per_day"),
        C("confidence", "text NOT NULL", None, "high | medium | no change | unrated"),
        C("guardrail", "text NOT NULL", None, "the shop's guardrail that bound best_price, or none"),
        C("note", "text", None, "why the price stays (no change); NULL: a change is recommended"),
        C("elasticity", "double precision", None,
          "% change of purchases for +1 % of price at the current price"),
        C("smoothing_error", "double precision NOT NULL",
          None, "largest |model − smoothed| purchases on the grid"),
        C("jagged", "boolean NOT NULL", None,
          "the smoothing moved a point by over twice the held-out error (confidence ≤ medium)"),
        C("observed_hours", "bigint NOT NULL", None, "hours of history in the bucket"),
        C("model_version", "integer"),
        _AT,
    ),
    key=("product_id", "time_of_day_bucket"),
    upstream=("price_curves",),
    preview_order=("gain_per_day DESC",),
)

PRICE_OBSERVATIONS = MetricTable(
    "price_observations",
    role="model",
    description="The evidence behind each curve: observed hours of a product in a time-of-day "
    f"bucket, grouped by price (bins of {OBSERVATION_BIN:.0%} of the base price), with the "
    "average price and purchases per hour.",
    columns=(
        C("product_id", "text NOT NULL", "product_id"),
        C("time_of_day_bucket", "text NOT NULL", "time_of_day_bucket"),
        C("price_bin", "integer NOT NULL",
          f"round(current_price / base_price / {OBSERVATION_BIN})::int",
          f"price ÷ base price ÷ {OBSERVATION_BIN}, rounded"),
        C("price", "double precision NOT NULL", "avg(current_price)::float8", "average price"),
        C("purchases", "double precision NOT NULL", "avg(purchases)::float8", "per hour"),
        C("hours", "bigint NOT NULL", "count(*)"),
        C("computed_at", "timestamptz NOT NULL", "now()"),
    ),
    key=("product_id", "time_of_day_bucket", "price_bin"),
    upstream=("sales",),
    preview_order=("product_id", "time_of_day_bucket", "price_bin"),
    refresh="""
INSERT INTO {table} ({columns})
SELECT {select}
FROM {sales}
GROUP BY 1, 2, 3;
""",
)

SALES_FORECAST_HOURLY = MetricTable(
    "sales_forecast_hourly",
    role="model",
    description="The next 24 hours after the latest hour of `sales`: purchases and revenue per "
    "hour predicted by the model for every product at its current price and its bucket's "
    "typical traffic.",
    columns=(
        C("hour", "timestamptz NOT NULL"),
        C("hour_of_day", "integer NOT NULL", None, "0-23 (UTC)"),
        C("time_of_day_bucket", "text NOT NULL"),
        C("purchases", "double precision NOT NULL"),
        C("revenue", "double precision NOT NULL"),
        C("model_version", "integer"),
        _AT,
    ),
    key=("hour",),
    upstream=("price_curves",),
    preview_order=("hour",),
)

PRICE_RECOMMENDATION_RUNS = MetricTable(
    "price_recommendation_runs",
    role="model",
    description="One row per computation of the recommendations (append-only): the model, its "
    "held-out error (the band of the gains), the grid and how long it took. The model's "
    "figures against the baselines are its evaluation, `shop_model.model_evaluation`.",
    columns=(
        C("computed_at", "timestamptz NOT NULL"),
        C("model", "text NOT NULL"),
        C("model_version", "integer"),
        C("held_out_r2", "double precision", None, "R² on the latest 24 h, held out"),
        C("held_out_mae", "double precision"),
        C("held_out_rmse", "double precision"),
        C("held_out_mean_purchases", "double precision"),
        C("relative_error", "double precision", None, "held_out_rmse ÷ mean purchases"),
        C("grid_points", "integer NOT NULL"),
        C("curves", "integer NOT NULL"),
        C("predictions", "integer NOT NULL"),
        C("mindsdb_calls", "integer NOT NULL"),
        C("seconds", "double precision NOT NULL"),
    ),
    key=("computed_at",),
    preview_order=("computed_at DESC",),
)
# fmt: on

DECLARED = (
    PRICE_CURVES,
    PRICE_RECOMMENDATIONS,
    PRICE_OBSERVATIONS,
    SALES_FORECAST_HOURLY,
    PRICE_RECOMMENDATION_RUNS,
)
TABLES: dict[str, MetricTable] = {t.name: t for t in DECLARED}
#: The per-product results every source writes (`source_tables`), in the shop's own schema.
PER_PRODUCT: dict[str, MetricTable] = {
    t.name: t.in_schema(SHOP.results)
    for t in (
        source_tables.PRICE_CURVES,
        source_tables.PRICE_ADVICE,
        source_tables.MODEL_EVALUATION,
    )
}
#: Rebuilt whole by each run (the runs table is a log: appended to).
REBUILT = [t.name for t in DECLARED if t is not PRICE_RECOMMENDATION_RUNS]


def select_sql(
    table: str,
    columns: Sequence[str] | None = None,
    *,
    where: sql.Composable | None = None,
    order: Sequence[str] | None = None,
    limit: int | None = None,
) -> sql.Composed:
    """A SELECT of one of these tables (see `MetricTable.select`); names are checked."""
    if table not in TABLES:
        raise ValueError(f"unknown price table {table!r}")
    return TABLES[table].select(columns, where=where, order=order, limit=limit)


def ensure_tables(conn: PgConnection) -> list[str]:
    """Create the schemas and tables if missing; one whose columns differ from its declaration
    is dropped and created anew (it is rebuilt whole anyway). Returns the names recreated."""
    with conn:
        lock_key(conn, SCHEMA, "ddl")
        with conn.cursor() as cur:
            stale = ensure(cur, [*DECLARED, *PER_PRODUCT.values()])
    return [t.qualified_name for t in stale]


def _plain(value: object) -> object:
    """numpy scalars as Python values (psycopg2 adapts only those)."""
    return value.item() if hasattr(value, "item") else value


def replace_all(
    conn: PgConnection,
    frames: Mapping[str, pd.DataFrame],
    run: Mapping,
    per_product: Mapping[str, pd.DataFrame] | None = None,
) -> dict:
    """In one transaction: empty the rebuilt tables, COPY `frames` (name -> rows, columns by
    name) and `per_product` (the same, into `PER_PRODUCT`), refresh the observations from
    `sales`, append `run` to the runs log. Row counts, by qualified name for `per_product`."""
    counts: dict[str, int] = {}
    per_product = per_product or {}
    with conn:
        lock_key(conn, SCHEMA, "price_recommendations")
        with conn.cursor() as cur:
            for table in [*(TABLES[n] for n in REBUILT), *PER_PRODUCT.values()]:
                cur.execute(sql.SQL("DELETE FROM {}").format(table.identifier))
            cur.execute(PRICE_OBSERVATIONS.refresh_sql)
            counts[PRICE_OBSERVATIONS.name] = cur.rowcount
        for name, frame in frames.items():
            TABLES[name].check_columns(list(frame.columns))
            counts[name] = copy_dataframe(conn, name, frame, schema=SCHEMA)
        for name, frame in per_product.items():
            table = PER_PRODUCT[name]
            counts[table.qualified_name] = copy_dataframe(
                conn, name, frame[table.column_names], schema=table.schema
            )
        # an INSERT, not COPY: the key keeps its microseconds (two runs in one second)
        names = PRICE_RECOMMENDATION_RUNS.check_columns(list(run))
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                    PRICE_RECOMMENDATION_RUNS.identifier,
                    sql.SQL(", ").join(sql.Identifier(n) for n in names),
                    sql.SQL(", ").join(sql.Placeholder(n) for n in names),
                ),
                {n: _plain(run[n]) for n in names},
            )
    return counts
