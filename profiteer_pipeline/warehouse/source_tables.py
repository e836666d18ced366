"""The tables a model run writes in its source's schema, one declaration each (`MetricTable`): an
import's in `import_<name>`, the simulated shop's in `shop_model` (`in_schema` places them).

`price_advice` is the one contract of what a source's advice says, per product (status, today's
and the best price with the units per day at each, the elasticity with its 90 % interval, the
guardrail that bound the price, the note): the app, the CSV export and outside checks read it,
whichever source wrote it. Its columns are the advice's own (`advice_table.ADVICE_COLUMNS`), so
the rows and the table cannot drift apart.

Pure (psycopg2.sql only, no Dagster).
"""

from __future__ import annotations

from collections.abc import Mapping

from profiteer_pipeline.model import daily_features as mf
from profiteer_pipeline.model.figures import METRIC_FIELDS
from profiteer_pipeline.pricing import advice_table, curves
from profiteer_pipeline.warehouse.metrics.declaration import Column, MetricTable

EVALUATION_COLUMNS = {
    "model": "text NOT NULL",
    "model_version": "integer NOT NULL",
    "trained_at": "timestamptz NOT NULL",
    "training_rows": "integer NOT NULL",
    "products_modelled": "integer NOT NULL",
    "selection": "text NOT NULL",  # which products and days were modelled, and every cap
    "held_out_from": "timestamptz",  # the first fold's first day
    "held_out_rows": "integer NOT NULL",  # product-days scored, over all folds
    "folds": "integer NOT NULL",
    **{field: "double precision" for field in METRIC_FIELDS},
    "beats_baseline": "boolean NOT NULL",
    "price_response_ok": "boolean NOT NULL",
    "pooled_elasticity": "double precision",
    "pooled_elasticity_low": "double precision",
    "pooled_elasticity_high": "double precision",
    "elasticity_products": "integer NOT NULL",
}


def _declared(
    name: str, columns: Mapping[str, str], key: tuple[str, ...], description: str
) -> MetricTable:
    return MetricTable(
        name,
        role="model",
        description=description,
        columns=tuple(Column(c, ddl) for c, ddl in columns.items()),
        key=key,
        preview_order=key,
    )


PRICE_ADVICE = _declared(
    "price_advice",
    advice_table.ADVICE_COLUMNS,
    ("product_id",),
    "Per product: the advice (a best price, no change, too little data, or not merchandise) "
    "with today's and the best price, the expected units and revenue per day at each, the "
    "elasticity with its 90 % interval, the guardrail that bound the price and the reason.",
)
PRICE_CURVES = _declared(
    "price_curves",
    curves.CURVE_COLUMNS,
    ("product_id", "price"),
    "Per product: the model's expected units and revenue per day over the prices it sold at.",
)
MODEL_EVALUATION = _declared(
    "model_evaluation",
    EVALUATION_COLUMNS,
    ("model_version",),
    "The latest training: its out-of-sample backtest against the naive forecasts, what was "
    "modelled, the price-response check and the pooled elasticity.",
)
MODEL_FEATURES = _declared(
    "model_features",
    mf.COLUMN_DDL,
    mf.KEY,
    "The model's training rows, one per product-day (MindsDB's login reads only this table).",
)

#: What an import's model run replaces together, in one transaction.
IMPORT_RESULTS = {t.name: t for t in (PRICE_CURVES, PRICE_ADVICE, MODEL_EVALUATION)}
